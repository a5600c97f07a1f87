"""What the `s2s` commands share: error handling, options, device choice, console logging, output."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from s2s.atomic import atomic_file
from s2s.errors import Interrupted, UserError
from s2s.penalty import PENALTIES
from s2s.precision import PRECISIONS
from s2s.quantize import QUANTIZE

log = logging.getLogger("s2s")


class Group(click.Group):
    """Turns a user's mistake (UserError) or a refusal of the file system (OSError) into a
    one-line message and exit status 1, and a signal that stopped a command into a message
    and 128 + the signal number."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as e:
            raise click.ClickException(str(e)) from None
        except BrokenPipeError:  # the reader stopped early (`s2s info RUN | head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
            ctx.exit(0)
        except OSError as e:  # the file system refused: a path that is a file, no permission, disk full
            where = f"{e.filename}: " if e.filename else ""
            raise click.ClickException(f"{where}{e.strerror or e}") from None
        except Interrupted as e:  # training saved last.pt and stopped
            if str(e):  # under torchrun only rank 0 has something to say
                click.echo(str(e), err=True)
            ctx.exit(128 + e.signum)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    log.propagate = False


quiet_option = click.option("-q", "--quiet", is_flag=True,
                            help="No progress bar (there is none anyway when stderr is not a terminal).")
device_option = click.option("--device", "device_name", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                             show_default=True, help="Where to run; auto picks CUDA when available.")
batch_option = click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
                            help="Sentences per batch when translating.")
workers_option = click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                              help="Processes that search batches side by side on the CPU, each with its "
                                   "share of the threads (2 on 2 cores: faster on files of many batches).")

# Search settings: each defaults to the run's `search` config section (beam 5, length penalty).
SEARCH_OPTIONS = (
    click.option("-k", "--beam", type=click.IntRange(min=1),
                 help="Beam size; 1 is greedy search. Search options default to the run's "
                      "`search` config section: beam 5, length penalty 'length', alpha 1."),
    click.option("--length-penalty", type=click.Choice(PENALTIES),
                 help="Score = log-prob / lp(L): none (1), length (L^alpha), gnmt (((5+L)/6)^alpha)."),
    click.option("--alpha", type=click.FloatRange(min=0), help="Length penalty exponent."),
    click.option("--min-len", type=click.IntRange(min=0), help="Target tokens before EOS is allowed."),
    click.option("--max-len-a", type=click.FloatRange(min=0), help="At most a*source_length + b tokens: a."),
    click.option("--max-len-b", type=click.IntRange(min=0), help="At most a*source_length + b tokens: b."),
    click.option("--stop-margin", type=click.FloatRange(min=0),
                 help="Beam search stops a sentence once no live hypothesis could win even if each "
                      "further piece cost only this much (nats); 0 (the default) is exact."),
    click.option("--shortlist/--no-shortlist", default=None,
                 help="Score only the target pieces the source pieces translate to (RUN/shortlist.pt, "
                      "made by s2s shortlist): faster, and may change a few translations."),
    click.option("--sample", is_flag=True, default=None,
                 help="Draw each piece from the model's distribution instead of searching (the beam is "
                      "not used); with -n/--nbest N, N samples per line, highest score first."),
    click.option("--temperature", type=click.FloatRange(min=0),
                 help="Sampling: divide log-probabilities by this (default 1; 0 is greedy)."),
    click.option("--top-k", type=click.IntRange(min=0), help="Sampling: only from the k most likely pieces."),
    click.option("--top-p", type=click.FloatRange(min=0, max=1, min_open=True),
                 help="Sampling: only from the fewest most likely pieces holding this much probability."),
    click.option("--seed", type=int, help="Sampling: the same seed gives the same samples of a line (default 1)."),
)


split_option = click.option("--max-src-len", type=click.IntRange(min=0),
                            help="Each sentence of a line is translated alone; a sentence longer "
                                 "than this many source pieces is cut at clauses or words into parts "
                                 "as long as 99% of the training sentences at most (default: the "
                                 "longest training sentence; 0 translates every line whole).")


quantize_option = click.option("--quantize", type=click.Choice(QUANTIZE),
                               help="CPU only: int8 weights in the GRU/LSTM and Linear layers "
                                    "(dynamic quantization), faster at a small cost in BLEU.")


precision_option = click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
                                help="What the model computes in: fp32, or bf16 (faster on a CPU with "
                                     "AVX512_BF16 or AMX, slower on one without); auto picks bf16 on a CPU "
                                     "that has it when --quantize is not given, else fp32.")


def search_options(command):
    for option in reversed(SEARCH_OPTIONS):
        command = option(command)
    return command


def write_lines(lines: Iterable[str], output: str, flush_each: bool = False) -> None:
    """Writes UTF-8 lines to stdout ('-') or to a file that appears only when complete.

    With flush_each, stdout is flushed after every line (interactive use).
    """
    if output == "-":
        out = sys.stdout.buffer
        try:
            for line in lines:
                out.write(line.encode("utf-8") + b"\n")
                if flush_each:
                    out.flush()
            out.flush()
        except BrokenPipeError:  # the reader stopped early (e.g. `| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
            sys.exit(0)
        return
    with atomic_file(output) as handle:
        for line in lines:
            handle.write(line.encode("utf-8") + b"\n")


def write_results(lines: Iterable[str], output: str, flush_each: bool = False) -> None:
    """write_lines, with an input error met on the way (lines are made as they are read)
    saying what became of the output."""
    if output != "-" and not Path(output).parent.is_dir():
        raise UserError(f"cannot write {output}: there is no directory {Path(output).parent}")
    try:
        write_lines(lines, output, flush_each)
    except UserError as e:
        if output != "-":
            raise UserError(f"{e}; {output} was not written") from None
        raise UserError(f"{e}; the output is incomplete (it stops before that line's chunk)") from None


def load_translator(model: str | tuple[str, ...], device_name: str, batch_size: int, max_src_len: int | None,
                    search: dict, quantize: str | None = None, precision: str = "auto", workers: int = 1):
    """A Translator for -m MODEL (an ensemble for several) with the command line's search,
    splitting, quantization and precision options applied."""
    from s2s.translator import Translator

    models = list(model) if isinstance(model, tuple) else model
    translator = Translator.load(models, device_name, quantize=quantize, precision=precision,
                                 batch_size=batch_size, workers=workers)
    try:
        translator = translator.with_search(**search)
    except UserError as e:  # e.g. --max-len-a 0 --max-len-b 0
        raise UserError(f"{e} (search options over the run's search section)") from None
    translator.load_shortlist()  # a missing or foreign shortlist is named before any work
    log.info("the model computes in %s (--precision %s)", translator.precision, precision)
    if max_src_len is not None:
        translator.max_src_len = max_src_len
    return translator


def count_lines(path: str) -> int | None:
    """Lines in a plain input file, for a progress bar's total (None for stdin or .gz)."""
    if path == "-" or path.endswith(".gz"):
        return None
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def show_progress(quiet: bool) -> bool:
    """Progress bars go to stderr, only when it is a terminal and --quiet is not given."""
    return not quiet and sys.stderr.isatty()
