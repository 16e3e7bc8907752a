"""The ``recengine`` command line.

Every command takes ``--home DIR`` (default ``$RECENGINE_HOME`` or ``./recengine-data``) and
``--json`` for machine-readable output. Exit status 0 on success, 1 when the engine refuses
the input (the reason is printed to stderr), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.cli_live import add_campaign_commands, add_live_commands
from engine.errors import RecengineError, SchemaError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], Any]


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="store directory (default: $RECENGINE_HOME or ./recengine-data)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON output"
    )
    common.add_argument(
        "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars or logs"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="recengine",
        description="A local recommender engine that mirrors Amazon Personalize.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_group_commands(commands, common)
    _add_data_commands(commands, common)
    _add_solution_commands(commands, common)
    _add_serving_commands(commands, common)
    add_live_commands(commands, common)
    demo = commands.add_parser("demo", parents=[common], help="run the main job on bundled data")
    demo.set_defaults(handler=_demo)
    return parser


def _subcommands(commands: Any, name: str, help_text: str) -> Any:
    parser = commands.add_parser(name, help=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def _add_group_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    groups = _subcommands(commands, "dataset-group", "create, list or delete dataset groups")
    create = groups.add_parser("create", parents=[common], help="create a dataset group")
    create.add_argument("name")
    create.set_defaults(handler=_create_group)
    listing = groups.add_parser("list", parents=[common], help="list dataset groups")
    listing.set_defaults(handler=_list_groups)
    describe = groups.add_parser(
        "describe", parents=[common], help="datasets, solutions, campaigns"
    )
    describe.add_argument("name")
    describe.set_defaults(handler=_describe_group)


def _add_data_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    schemas = _subcommands(commands, "schema", "check schema files")
    validate = schemas.add_parser("validate", parents=[common], help="validate a schema file")
    validate.add_argument("--type", required=True, help="interactions, users or items")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=_validate_schema)

    datasets = _subcommands(commands, "dataset", "create datasets and import data")
    create = datasets.add_parser("create", parents=[common], help="create a dataset in a group")
    create.add_argument("group")
    create.add_argument("--type", required=True, help="interactions, users or items")
    create.add_argument("--schema", required=True, type=Path, help="Avro schema JSON file")
    create.set_defaults(handler=_create_dataset)
    load = datasets.add_parser("import", parents=[common], help="import a CSV or Avro file")
    load.add_argument("group")
    load.add_argument("--type", required=True, help="interactions, users or items")
    load.add_argument("file", type=Path)
    load.add_argument("--mode", default="FULL", choices=["FULL", "INCREMENTAL"])
    load.add_argument("--schema", type=Path, help="create the dataset with this schema first")
    load.set_defaults(handler=_import)

    movielens = _subcommands(commands, "movielens", "convert MovieLens files")
    convert = movielens.add_parser("convert", parents=[common], help="to the service's CSV form")
    convert.add_argument("source", type=Path, help="folder with u.data or ratings.csv")
    convert.add_argument("output", type=Path)
    convert.set_defaults(handler=_convert_movielens)


def _add_solution_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    solutions = _subcommands(commands, "solution", "create and train solutions")
    create = solutions.add_parser("create", parents=[common], help="create a solution")
    create.add_argument("group")
    create.add_argument("name")
    create.add_argument("--recipe", required=True)
    create.add_argument("--event-type")
    create.add_argument("--event-value-threshold", type=float)
    create.add_argument(
        "--hyperparameter",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a recipe hyperparameter; repeat for several",
    )
    create.add_argument("--seed", type=int, default=42)
    create.add_argument("--test-share", type=float, default=0.1)
    create.set_defaults(handler=_create_solution)
    train = solutions.add_parser("train", parents=[common], help="train a new solution version")
    train.add_argument("group")
    train.add_argument("name")
    train.set_defaults(handler=_train)
    listing = solutions.add_parser("list", parents=[common], help="list solutions and versions")
    listing.add_argument("group")
    listing.set_defaults(handler=_list_solutions)
    metrics = solutions.add_parser("metrics", parents=[common], help="a version's metrics")
    metrics.add_argument("group")
    metrics.add_argument("name")
    metrics.add_argument("--version", help="version id (default: the latest ACTIVE one)")
    metrics.set_defaults(handler=_metrics)


def _add_serving_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    campaigns = _subcommands(commands, "campaign", "deploy solution versions")
    create = campaigns.add_parser("create", parents=[common], help="create a campaign")
    create.add_argument("group")
    create.add_argument("name")
    create.add_argument("--solution", required=True)
    create.add_argument("--version", help="version id (default: the latest ACTIVE one)")
    create.add_argument(
        "--sync-with-latest", action="store_true", help="follow each new ACTIVE version"
    )
    create.set_defaults(handler=_create_campaign)
    add_campaign_commands(campaigns, common)
    recommend = commands.add_parser("recommend", parents=[common], help="top-N for a user")
    recommend.add_argument("group")
    recommend.add_argument("campaign")
    recommend.add_argument("--user-id", required=True)
    recommend.add_argument("--num-results", "-n", type=int, default=25)
    recommend.set_defaults(handler=_recommend)


def _store(args: argparse.Namespace) -> Any:
    from engine.store import Store

    return Store(getattr(args, "home", None))


def _create_group(args: argparse.Namespace) -> Any:
    group = _store(args).create_dataset_group(args.name)
    return {"datasetGroup": group.name, "path": str(group.path)}


def _list_groups(args: argparse.Namespace) -> Any:
    return {"datasetGroups": [group.name for group in _store(args).list_dataset_groups()]}


def _describe_group(args: argparse.Namespace) -> Any:
    from engine.campaign import list_campaigns
    from engine.training import list_solutions

    group = _store(args).dataset_group(args.name)
    return {
        "datasetGroup": group.name,
        "datasets": [dataset.describe() for dataset in group.datasets()],
        "solutions": [solution.describe() for solution in list_solutions(group)],
        "campaigns": list_campaigns(group),
    }


def _validate_schema(args: argparse.Namespace) -> Any:
    from engine.schema import parse_schema

    schema = parse_schema(args.file, args.type)
    return {"valid": True, "file": str(args.file), "datasetType": schema.dataset_type}


def _create_dataset(args: argparse.Namespace) -> Any:
    dataset = _store(args).dataset_group(args.group).create_dataset(args.type, args.schema)
    return dataset.describe()


def _import(args: argparse.Namespace) -> Any:
    group = _store(args).dataset_group(args.group)
    if args.schema is not None:
        group.create_dataset(args.type, args.schema)
    importer = group.import_avro if args.file.suffix == ".avro" else group.import_csv
    job = importer(args.type, args.file, mode=args.mode, show_progress=_progress(args))
    return job.describe() if hasattr(job, "describe") else vars(job)


def _convert_movielens(args: argparse.Namespace) -> Any:
    from datasets.movielens import convert_movielens

    written = convert_movielens(args.source, args.output)
    return {name: str(path) for name, path in written.items()}


def _parse_hyperparameters(pairs: Sequence[str]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise SystemExit(f"recengine: --hyperparameter takes NAME=VALUE, got {pair!r}")
        parsed[name.strip()] = value.strip()
    return parsed


def _create_solution(args: argparse.Namespace) -> Any:
    from engine.training import create_solution

    group = _store(args).dataset_group(args.group)
    solution = create_solution(
        group,
        args.name,
        args.recipe,
        event_type=args.event_type,
        event_value_threshold=args.event_value_threshold,
        hyperparameters=_parse_hyperparameters(args.hyperparameter),
        seed=args.seed,
        test_share=args.test_share,
    )
    return solution.describe()


def _train(args: argparse.Namespace) -> Any:
    from engine.training import get_solution

    solution = get_solution(_store(args).dataset_group(args.group), args.name)
    version = solution.train(show_progress=_progress(args))
    return _version_summary(version)


def _version_summary(version: Any) -> dict[str, Any]:
    manifest = version.manifest
    keys = (
        "solution",
        "version_id",
        "status",
        "num_interactions",
        "num_users",
        "num_items",
        "num_test_users",
        "metrics",
        "timings",
    )
    return {key: manifest[key] for key in keys if key in manifest}


def _list_solutions(args: argparse.Namespace) -> Any:
    from engine.training import list_solutions

    group = _store(args).dataset_group(args.group)
    return {"solutions": [solution.describe() for solution in list_solutions(group)]}


def _metrics(args: argparse.Namespace) -> Any:
    from engine.training import get_solution

    solution = get_solution(_store(args).dataset_group(args.group), args.name)
    return _version_summary(solution.version(args.version))


def _create_campaign(args: argparse.Namespace) -> Any:
    from engine.campaign import create_campaign
    from engine.training import get_solution

    group = _store(args).dataset_group(args.group)
    version = get_solution(group, args.solution).version(args.version)
    campaign = create_campaign(group, args.name, version, sync_with_latest=args.sync_with_latest)
    return {"campaign": campaign.name, "solution": args.solution, "version": version.version_id}


def _recommend(args: argparse.Namespace) -> Any:
    from engine.campaign import get_campaign

    campaign = get_campaign(_store(args).dataset_group(args.group), args.campaign)
    return campaign.get_recommendations(args.user_id, args.num_results).to_dict()


def _demo(args: argparse.Namespace) -> Any:
    from engine.demo import run_demo

    return run_demo(_store(args), show_progress=_progress(args), emit=_emit_for(args))


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and not getattr(args, "json", False)


def _emit_for(args: argparse.Namespace) -> Callable[[str], None]:
    if getattr(args, "json", False):
        return lambda text: None
    return lambda text: print(text, flush=True)


def _print_result(result: Any, as_json: bool, command: str) -> None:
    if result is None or (command == "demo" and not as_json):
        return
    print(json.dumps(result, indent=None if as_json else 2, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if not getattr(args, "quiet", False):
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        result = args.handler(args)
    except SchemaError as error:
        print(f"recengine: {error.source} is not a valid schema:", file=sys.stderr)
        for reason in error.reasons:
            print(f"  - {reason}", file=sys.stderr)
        return 1
    except RecengineError as error:
        print(f"recengine: {error}", file=sys.stderr)
        return 1
    _print_result(result, getattr(args, "json", False), args.command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
