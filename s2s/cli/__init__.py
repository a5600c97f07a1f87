"""The `s2s` command line: the only place that touches argv, stdio, console logging and device.

Exit status: 0 success, 1 a user's mistake (one-line message naming the file, line, option
or key), 2 a usage error (unknown option, missing argument), 128 + N stopped by signal N
(130 for Ctrl-C, 143 for SIGTERM; training saves a checkpoint first).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

import click

from s2s import __version__
from s2s.cli.align import align
from s2s.cli.checkpoints import average, info
from s2s.cli.common import Group
from s2s.cli.evaluate import evaluate
from s2s.cli.predict import predict
from s2s.cli.serve import serve
from s2s.cli.shortlist import shortlist
from s2s.cli.train import train
from s2s.cli.translate import plot_attention, translate


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="s2s")
def main() -> None:
    """s2s: train attention-based recurrent translators, translate files, score them
    (and sentence classifiers and word taggers with the same encoders: s2s predict).

    \b
    Examples:
      s2s train -c configs/demo.yaml -o runs/demo
      s2s translate -m runs/demo < data/demo/test.src > hyp.txt
      s2s eval --hyp hyp.txt --ref data/demo/test.tgt
      s2s align -m runs/demo --src data/demo/test.src --tgt data/demo/test.tgt
      s2s info runs/demo/best.pt
      s2s serve -m runs/demo    # JSON API and attention page on http://127.0.0.1:8000

    Exit status: 0 ok, 1 a mistake in a file, option or config (the message names it),
    2 a usage error, 130/143 stopped by Ctrl-C/SIGTERM.
    """


for command in (train, translate, align, predict, evaluate, plot_attention, info, average, serve, shortlist):
    main.add_command(command)


def run() -> None:
    """The console script (and `python -m s2s`): `main`, then a quick exit.

    A Python process that has imported torch spends about 0.3 s tearing its modules down
    at exit, a tenth of a 1,000-line `s2s translate`. Once the command has returned, the
    exit handlers run (logging, multiprocessing, anything a library registered), stdout and
    stderr are flushed, and the process ends without that teardown. While a thread that is
    not a daemon still runs, the ordinary exit waits for it instead, as Python would.
    """
    try:
        main()
        status = 0
    except SystemExit as e:
        if e.code is not None and not isinstance(e.code, int):
            raise
        status = e.code or 0
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(status)
    atexit._run_exitfuncs()  # what the interpreter would run first at exit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, or a stream closed already
            pass
    os._exit(status)
