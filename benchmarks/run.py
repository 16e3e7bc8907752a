"""Run the benchmark suite: ``python -m benchmarks.run [--quick] [--only NAME ...]``.

Each benchmark prints its table as it finishes and writes ``results/<name>.json``; the run
ends by writing ``results/summary.md`` and ``results/machine.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.machine import describe_machine
from benchmarks.report import RESULTS, Result, print_result, write_results, write_summary

__all__ = ["BENCHMARKS", "main"]

BENCHMARKS = (
    "accuracy",
    "training_overhead",
    "import_throughput",
    "serving",
    "event_latency",
    "scale",
    "hybrid_serving",
    "batch_serving",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks and write their results; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments; ``sys.argv[1:]`` when not given.
    """
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    machine = describe_machine()
    _print_machine(machine)

    # Quick runs keep apart from the full run's files, which the README quotes.
    directory = RESULTS / "quick" if arguments.quick else RESULTS
    results = [_run_one(name, arguments, directory) for name in arguments.only or BENCHMARKS]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "machine.json").write_text(json.dumps(machine, indent=1) + "\n")
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    if not arguments.only:
        summary = write_summary(results, machine, command.strip(), directory)
        sys.stdout.write(f"\nwrote {summary}\n")
    return 0


def _run_one(name: str, arguments: argparse.Namespace, directory: Path) -> Result:
    module = importlib.import_module(f"benchmarks.{name}")
    started = time.perf_counter()
    if name == "scale":
        result: Result = module.run(arguments.quick, arguments.scale)
    else:
        result = module.run(arguments.quick)
    result.seconds = round(time.perf_counter() - started, 1)
    result.details["mode"] = "quick" if arguments.quick else "full"
    print_result(result)
    write_results(result, directory)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument(
        "--only", nargs="+", choices=BENCHMARKS, help="run only these (no summary.md)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="size of the scale benchmark as a share of 25M interactions (default 1)",
    )
    return parser


def _print_machine(machine: dict[str, object]) -> None:
    sys.stdout.write(f"machine: {machine['cpu']}, {machine['cores']} cores, ")
    sys.stdout.write(f"{machine['ram_gib']} GiB RAM, Python {machine['python']}\n")
    sys.stdout.write(f"BLAS: {', '.join(machine['blas'])}\n")  # type: ignore[arg-type]
    libraries = machine["libraries"]
    sys.stdout.write(
        "libraries: " + ", ".join(f"{k} {v}" for k, v in libraries.items()) + "\n"  # type: ignore[attr-defined]
    )


if __name__ == "__main__":
    sys.exit(main())
