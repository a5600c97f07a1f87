"""`s2s eval`: BLEU and chrF of a hypothesis file, or of a model's translation of a source file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from s2s.cli.common import (batch_option, device_option, load_translator, precision_option, quantize_option,
                            quiet_option, search_options, setup_logging, show_progress, split_option,
                            workers_option)
from s2s.errors import UserError
from s2s.metrics import WIDTH


@click.command(name="eval", short_help="Score translations (BLEU, chrF) or labels (accuracy, F1).")
@click.option("-r", "--ref", type=click.Path(exists=True, dir_okay=False),
              help="Reference translations, or labels (with -m: default the run's data.test target file; "
                   "classify/tag: a data file with --ref-format).")
@click.option("--hyp", type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help="Hypotheses to score, '-' for stdin (instead of translating with -m).")
@click.option("-m", "--model", "models", multiple=True, type=click.Path(exists=True),
              help="Checkpoint or run directory to translate --src with (without --src/--ref: "
                   "the run's data.test split); several -m make an ensemble (translate, classify or tag).")
@click.option("--src", type=click.Path(exists=True, dir_okay=False),
              help="Source text for -m (default: the run's data.test source file; classify/tag: "
                   "the --ref data file itself when its --ref-format is not text).")
@click.option("--task", type=click.Choice(["translate", "classify", "tag"]),
              help="With --hyp: what is scored (default translate; classify: a label per line; tag: "
                   "a line of labels per sentence). With -m it is the model's.")
@click.option("--ref-format", type=click.Choice(["text", "label_first", "tsv", "conllu"]), default="text",
              show_default=True, help="classify/tag: --ref is a data file of this format; its labels are the "
                                         "references and, with -m and no other --src, its inputs are labelled.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line instead of text.")
@click.option("-b", "--score-only", is_flag=True, help="Print the scores alone, one per line.")
@search_options
@split_option
@batch_option
@workers_option
@device_option
@quantize_option
@precision_option
@quiet_option
def evaluate(ref, hyp, models, src, task, ref_format, as_json, score_only, max_src_len, batch_size, workers,
             device_name, quantize, precision, quiet, **search) -> None:
    """Score translations with BLEU and chrF (sacrebleu, signatures included), or the
    labels of a classify or tag model with accuracy, macro-F1 and each label's P/R/F1.

    \b
    Examples:
      s2s eval --hyp hyp.txt --ref data/demo/test.tgt
      s2s translate -m runs/demo < data/demo/test.src | s2s eval --hyp - --ref data/demo/test.tgt
      s2s eval -m runs/demo --src data/demo/test.src --ref data/demo/test.tgt
      s2s eval -m runs/demo            # the test split named in the run's config
      s2s eval -m runs/a -m runs/b     # an ensemble of two models on the first one's test split
      s2s eval -m runs/sst2            # a classifier on its run's test split
      s2s eval -m runs/sst2 -m runs/sst2-seed2   # an ensemble of two classifiers
      s2s eval -m runs/sst2 --ref $S2S_DATA/sst/stsa.binary.dev --ref-format label_first
      s2s eval --task classify --hyp labels.txt --ref gold.txt
    """
    from s2s.text import iter_lines, split_path
    from s2s.evaluate import score_files, score_lines, translate_and_score

    setup_logging(verbose=False)
    model = models[0] if models else None
    if (hyp is None) == (model is None):
        raise click.UsageError("give either --hyp FILE --ref FILE, or -m MODEL [--src FILE --ref FILE | "
                               "--ref DATA_FILE --ref-format F]")
    if model is not None and task is not None:
        raise click.UsageError("--task is for --hyp: with -m the task is the model's")
    if model is not None and _task_of(model) != "translate" or task in ("classify", "tag"):
        return _evaluate_labels(ref, hyp, models, src, task, ref_format, as_json, score_only, batch_size,
                                device_name)
    if hyp is not None:
        if src is not None or ref is None:
            raise click.UsageError("--hyp needs --ref, and takes no --src")
        if hyp == "-":
            scores = score_lines(list(iter_lines(sys.stdin.buffer, "<stdin>")), "<stdin>", ref)
        else:
            scores = score_files(hyp, ref)
    else:
        if (src is None) != (ref is None):
            raise click.UsageError("-m MODEL takes both --src and --ref, or neither (the run's test split)")
        translator = load_translator(models, device_name, batch_size, max_src_len, search, quantize, precision,
                                     workers)
        if src is None:
            data = translator.config.data
            if not data.test:
                raise UserError(f"{model}: the run's config has no data.test; give --src and --ref")
            src, ref = split_path(data.test, data.src_lang), split_path(data.test, data.tgt_lang)
        _, scores = translate_and_score(translator, src, ref, progress=show_progress(quiet))
    if as_json:
        click.echo(json.dumps([s.fields for s in scores], ensure_ascii=False))
    elif score_only:
        for s in scores:
            click.echo(f"{s.score:.{WIDTH}f}")
    else:
        for s in scores:
            click.echo(s.text)


def _task_of(model: str) -> str:
    from s2s import checkpoint

    return checkpoint.task_of(checkpoint.load(checkpoint.resolve(model), require=("config",)))


def _evaluate_labels(ref, hyp, models, src, task, ref_format, as_json, score_only, batch_size, device_name) -> None:
    """`s2s eval` for classify and tag: predictions (a file, or a model's) against references."""
    from s2s.text import iter_lines, read_lines
    from s2s.evaluate import predict_and_score, reference_labels
    from s2s.labels import read_data_file, read_split
    from s2s.labelscores import score_lines

    if hyp is not None:
        if src is not None or ref is None:
            raise click.UsageError("--hyp needs --ref, and takes no --src")
        hyps = list(iter_lines(sys.stdin.buffer, "<stdin>")) if hyp == "-" else list(read_lines(hyp))
        scores = score_lines(task, hyps, reference_labels(task, ref, ref_format), hyp, ref)
    else:
        from s2s.predictor import Predictor

        predictor = Predictor.load(models, device_name, batch_size=batch_size)
        one_file = ref is not None and ref_format != "text" and (src is None or os.path.samefile(src, ref))
        if (src is None) != (ref is None) and not one_file:
            raise click.UsageError("-m MODEL takes both --src and --ref, --ref DATA_FILE with its --ref-format "
                                   "alone, or neither (the run's test split)")
        if one_file:  # the data file holds the inputs and their labels
            examples = read_data_file(predictor.task, ref_format, Path(ref), "--ref-format")
            inputs, refs = examples.inputs, examples.label_lines()
        elif src is None:
            data = predictor.config.data
            if not data.test:
                raise UserError(f"{models[0]}: the run's config has no data.test; give --src and --ref")
            examples = read_split(predictor.task, data, data.test)
            inputs, refs, ref = examples.inputs, examples.label_lines(), examples.name
        else:
            inputs = predictor.inputs(list(read_lines(src)))
            refs = reference_labels(predictor.task, ref, ref_format)
        _, scores = predict_and_score(predictor, inputs, refs, ref)
    if as_json:
        click.echo(json.dumps(scores.fields(), ensure_ascii=False))
    elif score_only:
        click.echo(f"{scores.accuracy:.2f}\n{scores.macro_f1:.2f}")
    else:
        for line in scores.lines():
            click.echo(line)
