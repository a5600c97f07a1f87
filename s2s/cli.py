"""The `s2s` command line: the only place that touches argv, stdio, console logging and device."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import click
import torch

from s2s import __version__
from s2s.atomic import atomic_file
from s2s.errors import Interrupted, UserError
from s2s.metrics import WIDTH

log = logging.getLogger("s2s")


class Group(click.Group):
    """Turns a user's mistake (UserError) into a one-line message and exit status 1, and a
    signal that stopped a command into a message and 128 + the signal number."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as e:
            raise click.ClickException(str(e)) from None
        except Interrupted as e:  # training saved last.pt and stopped
            click.echo(str(e), err=True)
            ctx.exit(128 + e.signum)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    log.propagate = False


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA GPU is available to torch here")
    return torch.device(name)


device_option = click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                             show_default=True, help="Where to run; auto picks CUDA when available.")
batch_option = click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
                            help="Sentences per batch when translating.")

# Search settings: each defaults to the run's `search` config section (beam 5, length penalty).
SEARCH_OPTIONS = (
    click.option("-k", "--beam", type=click.IntRange(min=1),
                 help="Beam size; 1 is greedy search. Search options default to the run's "
                      "`search` config section: beam 5, length penalty 'length', alpha 1."),
    click.option("--length-penalty", type=click.Choice(["none", "length", "gnmt"]),
                 help="Score = log-prob / lp(L): none (1), length (L^alpha), gnmt (((5+L)/6)^alpha)."),
    click.option("--alpha", type=click.FloatRange(min=0), help="Length penalty exponent."),
    click.option("--min-len", type=click.IntRange(min=0), help="Target tokens before EOS is allowed."),
    click.option("--max-len-a", type=click.FloatRange(min=0), help="At most a*source_length + b tokens: a."),
    click.option("--max-len-b", type=click.IntRange(min=0), help="At most a*source_length + b tokens: b."),
)


utf8_option = click.option("--utf8-errors", type=click.Choice(["strict", "replace"]), default="strict",
                           show_default=True,
                           help="Invalid UTF-8 in the input: stop with an error naming the line and "
                                "byte (strict), or read it as U+FFFD characters (replace).")
split_option = click.option("--max-src-len", type=click.IntRange(min=0),
                            help="Split lines longer than this many source pieces at sentence, "
                                 "clause or word boundaries and join the translations (default: the "
                                 "run's data.max_len; 0 never splits).")


def search_options(command):
    for option in reversed(SEARCH_OPTIONS):
        command = option(command)
    return command


def _search(translator, **given) -> None:
    """Applies the search options given on the command line over the run's `search` section."""
    import dataclasses

    given = {key: value for key, value in given.items() if value is not None}
    try:
        translator.search = dataclasses.replace(translator.search, **given)
    except UserError as e:  # e.g. --max-len-a 0 --max-len-b 0
        raise UserError(f"{e} (search options over the run's search section)") from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="s2s")
def main() -> None:
    """s2s: train attention-based recurrent translators, translate files, score them.

    \b
    Examples:
      s2s train -c configs/demo.yaml -o runs/demo
      s2s translate -m runs/demo < data/demo/test.src > hyp.txt
      s2s eval --hyp hyp.txt --ref data/demo/test.tgt
    """


@main.command(short_help="Train a model into a run directory.")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config file (optional with --resume: the run's config.yaml is used).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one config value; repeatable, e.g. --set train.max_steps=2000.")
@click.option("-o", "--output", "run_dir", type=click.Path(file_okay=False),
              help="Run directory (default: runs/CONFIG_NAME).")
@click.option("--resume", is_flag=True, help="Continue the run in the run directory from last.pt.")
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(config_path, overrides, run_dir, resume, device, quiet) -> None:
    """Train a model: tokenizer, network and checkpoints in a run directory.

    \b
    Example:
      s2s train -c configs/demo.yaml -o runs/demo --set train.max_steps=2000
    """
    from s2s.config import load_config
    from s2s.train import train as run_training

    _setup_logging(verbose=True)
    if config_path is None:
        if not (resume and run_dir):
            raise click.UsageError("give a config with -c (or -o RUN_DIR --resume to continue a run)")
        if not (Path(run_dir) / "last.pt").is_file():
            raise UserError(f"--resume: {Path(run_dir) / 'last.pt'} does not exist (nothing to resume)")
        config_path = str(Path(run_dir) / "config.yaml")
    run_dir = run_dir or str(Path("runs") / Path(config_path).stem)
    config = load_config(config_path, overrides)
    progress = run_training(config, run_dir, resume=resume, device=_device(device),
                            progress_bar=not quiet and sys.stderr.isatty())
    click.echo(f"best validation BLEU {progress.best_bleu:.2f} at step {progress.best_step}; "
               f"checkpoints in {run_dir}", err=True)


def _write_lines(lines: Iterable[str], output: str) -> None:
    """Writes UTF-8 lines to stdout ('-') or to a file that appears only when complete."""
    if output == "-":
        out = sys.stdout.buffer
        try:
            for line in lines:
                out.write(line.encode("utf-8") + b"\n")
            out.flush()
        except BrokenPipeError:  # the reader stopped early (e.g. `| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
            sys.exit(0)
        return
    with atomic_file(output) as handle:
        for line in lines:
            handle.write(line.encode("utf-8") + b"\n")


@main.command(short_help="Translate text, one line out per line in.")
@click.option("-m", "--model", required=True, type=click.Path(exists=True),
              help="Checkpoint file, or run directory (its best.pt).")
@click.option("-i", "--input", "input_file", type=click.Path(exists=True, allow_dash=True, dir_okay=False),
              default="-", show_default=True,
              help="Source text, one sentence per line, UTF-8, .gz accepted ('-' = stdin).")
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(dir_okay=False),
              help="Where translations go ('-' = stdout); a file appears only once complete.")
@click.option("-n", "--nbest", type=click.IntRange(min=1), default=None,
              help="Print the N best translations of each line (N <= beam): exactly N lines per "
                   "input line, 'LINE<TAB>RANK<TAB>SCORE<TAB>TEXT'.")
@click.option("--scores", is_flag=True, help="Print 'SCORE<TAB>TEXT' for the best translation.")
@search_options
@split_option
@utf8_option
@batch_option
@device_option
def translate(model, input_file, output, nbest, scores, max_src_len, utf8_errors, batch_size, device,
              **search) -> None:
    """Translate text: one output line per input line, in order (beam search, beam 5).

    \b
    Examples:
      s2s translate -m runs/demo < data/demo/test.src > hyp.txt
      s2s translate -m runs/demo --beam 10 --nbest 3 -i data/demo/test.src
    """
    from s2s.data import iter_lines, read_lines
    from s2s.translate import Translator, nbest_lines, scored_line

    _setup_logging(verbose=False)
    if output != "-" and not Path(output).resolve().parent.is_dir():
        raise UserError(f"-o {output}: directory {Path(output).parent} does not exist")
    translator = Translator.load(model, _device(device), batch_size=batch_size)
    _search(translator, **search)
    if max_src_len is not None:
        translator.max_src_len = max_src_len
    beam = translator.search.beam
    if nbest is not None and nbest > beam:
        raise UserError(f"--nbest {nbest} is larger than the beam ({beam}); raise --beam to at least {nbest}")
    if nbest is not None and scores:
        raise click.UsageError("--nbest output already has scores; drop --scores")
    if input_file == "-":
        lines = iter_lines(sys.stdin.buffer, "<stdin>", utf8_errors)
    else:
        lines = read_lines(input_file, utf8_errors)
    if nbest is not None:
        out = (row for i, found in enumerate(translator.stream(lines, nbest), 1)
               for row in nbest_lines(i, found, nbest))
    elif scores:
        out = (scored_line(found[0]) for found in translator.stream(lines))
    else:
        out = translator.translate_stream(lines)
    try:
        _write_lines(out, output)
    except UserError as e:
        if output != "-":
            raise UserError(f"{e}; {output} was not written") from None
        raise UserError(f"{e}; the output is incomplete (it stops before that line's chunk)") from None


@main.command(name="eval", short_help="Score translations with BLEU and chrF.")
@click.option("-r", "--ref", type=click.Path(exists=True, dir_okay=False),
              help="Reference translations (with -m: default the run's data.test target file).")
@click.option("--hyp", type=click.Path(exists=True, dir_okay=False),
              help="Hypotheses to score (instead of translating with -m).")
@click.option("-m", "--model", type=click.Path(exists=True),
              help="Checkpoint or run directory to translate --src with (without --src/--ref: "
                   "the run's data.test split).")
@click.option("--src", type=click.Path(exists=True, dir_okay=False),
              help="Source text for -m (default: the run's data.test source file).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line instead of text.")
@click.option("-b", "--score-only", is_flag=True, help="Print the scores alone, one per line.")
@search_options
@split_option
@batch_option
@device_option
def evaluate(ref, hyp, model, src, as_json, score_only, max_src_len, batch_size, device, **search) -> None:
    """Score translations with BLEU and chrF (sacrebleu, signatures included).

    \b
    Examples:
      s2s eval --hyp hyp.txt --ref data/demo/test.tgt
      s2s eval -m runs/demo --src data/demo/test.src --ref data/demo/test.tgt
      s2s eval -m runs/demo            # the test split named in the run's config
    """
    from s2s.data import split_path
    from s2s.evaluate import score_files, translate_and_score
    from s2s.translate import Translator

    _setup_logging(verbose=False)
    if (hyp is None) == (model is None):
        raise click.UsageError("give either --hyp FILE --ref FILE, or -m MODEL [--src FILE --ref FILE]")
    if hyp is not None:
        if src is not None or ref is None:
            raise click.UsageError("--hyp needs --ref, and takes no --src")
        scores = score_files(hyp, ref)
    else:
        if (src is None) != (ref is None):
            raise click.UsageError("-m MODEL takes both --src and --ref, or neither (the run's test split)")
        translator = Translator.load(model, _device(device), batch_size=batch_size)
        _search(translator, **search)
        if max_src_len is not None:
            translator.max_src_len = max_src_len
        if src is None:
            data = translator.config.data
            if not data.test:
                raise UserError(f"{model}: the run's config has no data.test; give --src and --ref")
            src, ref = split_path(data.test, data.src_lang), split_path(data.test, data.tgt_lang)
        _, scores = translate_and_score(translator, src, ref)
    if as_json:
        click.echo(json.dumps([s.fields for s in scores], ensure_ascii=False))
    elif score_only:
        for s in scores:
            click.echo(f"{s.score:.{WIDTH}f}")
    else:
        for s in scores:
            click.echo(s.text)
