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
from engine.errors import AlreadyExistsError, RecengineError, SchemaError
from engine.text_output import render

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
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the result (or the error) as one line of JSON instead of text",
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
    _add_item_list_commands(commands, common)
    add_live_commands(commands, common)
    _add_filter_commands(commands, common)
    _add_batch_commands(commands, common)
    demo = commands.add_parser("demo", parents=[common], help="run the main job on bundled data")
    demo.set_defaults(handler=_demo)
    _add_experiment_command(commands, common)
    return parser


def _subcommands(commands: Any, name: str, help_text: str) -> Any:
    parser = commands.add_parser(name, help=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def _add_group_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    groups = _subcommands(commands, "dataset-group", "create, list or delete dataset groups")
    create = groups.add_parser("create", parents=[common], help="create a dataset group")
    create.add_argument("name", help="group name: letters, digits, - and _, up to 63")
    create.set_defaults(handler=_create_group)
    listing = groups.add_parser("list", parents=[common], help="list dataset groups")
    listing.set_defaults(handler=_list_groups)
    describe = groups.add_parser(
        "describe", parents=[common], help="datasets, solutions, campaigns"
    )
    describe.add_argument("name")
    describe.set_defaults(handler=_describe_group)
    delete = groups.add_parser(
        "delete", parents=[common], help="delete a group with everything in it"
    )
    delete.add_argument("name")
    delete.set_defaults(handler=_delete_group)

    recipes = _subcommands(commands, "recipe", "list recipes and their hyperparameters")
    listing = recipes.add_parser("list", parents=[common], help="every recipe, with its purpose")
    listing.set_defaults(handler=_list_recipes)
    describe = recipes.add_parser("describe", parents=[common], help="a recipe's hyperparameters")
    describe.add_argument("name", help="a recipe name, e.g. hybrid")
    describe.set_defaults(handler=_describe_recipe)


def _add_data_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    schemas = _subcommands(commands, "schema", "check schema files")
    validate = schemas.add_parser("validate", parents=[common], help="validate a schema file")
    validate.add_argument("--type", required=True, help="interactions, users or items")
    validate.add_argument("file", type=Path, help="Avro schema JSON file")
    validate.set_defaults(handler=_validate_schema)

    datasets = _subcommands(commands, "dataset", "create datasets and import data")
    create = datasets.add_parser("create", parents=[common], help="create a dataset in a group")
    create.add_argument("group")
    create.add_argument("--type", required=True, help="interactions, users or items")
    create.add_argument("--schema", required=True, type=Path, help="Avro schema JSON file")
    create.set_defaults(handler=_create_dataset)
    load = datasets.add_parser("import", parents=[common], help="import a CSV or Avro file")
    load.add_argument("group", help="dataset group name")
    load.add_argument("--type", required=True, help="interactions, users or items")
    load.add_argument("file", type=Path, help="CSV with a header row, or an Avro container")
    load.add_argument(
        "--mode",
        default="FULL",
        choices=["FULL", "INCREMENTAL"],
        help="FULL replaces earlier imports, INCREMENTAL adds to them (default FULL)",
    )
    load.add_argument("--schema", type=Path, help="create the dataset with this schema first")
    load.set_defaults(handler=_import)

    movielens = _subcommands(commands, "movielens", "convert MovieLens files")
    convert = movielens.add_parser("convert", parents=[common], help="to the service's CSV form")
    convert.add_argument("source", type=Path, help="folder with u.data or ratings.csv")
    convert.add_argument("output", type=Path, help="folder for the CSV and schema files")
    convert.set_defaults(handler=_convert_movielens)


def _add_solution_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    solutions = _subcommands(commands, "solution", "create and train solutions")
    create = solutions.add_parser("create", parents=[common], help="create a solution")
    create.add_argument("group", help="dataset group name")
    create.add_argument("name", help="solution name")
    create.add_argument("--recipe", required=True, help="a recipe name, e.g. user-personalization")
    create.add_argument("--event-type", help="train only on events of this type")
    create.add_argument(
        "--event-value-threshold",
        type=float,
        help="keep events whose EVENT_VALUE is at least this (needs --event-type)",
    )
    create.add_argument(
        "--hyperparameter",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a recipe hyperparameter; repeat for several",
    )
    create.add_argument("--seed", type=int, default=42, help="seeds split and model (default 42)")
    create.add_argument(
        "--test-share",
        type=float,
        default=0.1,
        help="share of users held out for the offline metrics (default 0.1)",
    )
    _add_training_data_options(create)
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


def _add_training_data_options(parser: argparse.ArgumentParser) -> None:
    """Column choice (the service's trainingDataConfig) and the training window."""
    for choice in ("include", "exclude"):
        parser.add_argument(
            f"--{choice}-columns",
            action="append",
            default=[],
            metavar="TYPE=COL,COL",
            help=f"{choice} only these USERS or ITEMS columns; repeat per dataset type",
        )
    parser.add_argument("--window-start", help="train on events from this time (epoch or ISO)")
    parser.add_argument("--window-end", help="train on events before this time (epoch or ISO)")
    parser.add_argument("--window-days", type=float, help="train on the last N days of events")


def _parse_columns(pairs: Sequence[str], option: str) -> dict[str, list[str]] | None:
    if not pairs:
        return None
    parsed: dict[str, list[str]] = {}
    for pair in pairs:
        dataset_type, separator, columns = pair.partition("=")
        if not separator or not dataset_type:
            raise SystemExit(f"recengine: --{option} takes TYPE=COL,COL, got {pair!r}")
        names = [column.strip() for column in columns.split(",") if column.strip()]
        parsed.setdefault(dataset_type.strip().upper(), []).extend(names)
    return parsed


def _add_experiment_command(commands: Any, common: argparse.ArgumentParser) -> None:
    experiment = commands.add_parser(
        "experiment",
        parents=[common],
        help="compare solution configurations under the standard and cold-start protocols",
    )
    experiment.add_argument("group")
    experiment.add_argument(
        "--config", required=True, type=Path, help="experiment JSON (see engine.experiments)"
    )
    experiment.add_argument(
        "--output",
        type=Path,
        help="folder for experiment.json and .png (default: experiment-GROUP)",
    )
    experiment.add_argument("--seed", type=int, help="replace the file's seed")
    experiment.set_defaults(handler=_experiment)


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
    recommend.add_argument("group", help="dataset group name")
    recommend.add_argument("campaign", help="campaign name")
    recommend.add_argument("--user-id", required=True, help="unknown users get popular items")
    recommend.add_argument(
        "--num-results", "-n", type=int, default=25, help="1 to 500 (default 25)"
    )
    _add_filter_options(recommend)
    recommend.add_argument(
        "--promotion",
        type=_json_object,
        help='one promotion as JSON: {"name": ..., "percentPromotedItems": 20, '
        '"filterName": ..., "filterValues": {...}}',
    )
    recommend.set_defaults(handler=_recommend)


def _add_item_list_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    similar = commands.add_parser("similar-items", parents=[common], help="items like an item")
    similar.add_argument("group")
    similar.add_argument("campaign")
    similar.add_argument("--item-id", required=True)
    similar.add_argument("--num-results", "-n", type=int, default=25)
    similar.add_argument("--user-id", help="the user asking, for filters that name the user")
    _add_filter_options(similar)
    similar.set_defaults(handler=_similar_items)
    rank = commands.add_parser("rank", parents=[common], help="re-rank items for a user")
    rank.add_argument("group")
    rank.add_argument("campaign")
    rank.add_argument("--user-id", required=True)
    rank.add_argument("--items", required=True, help="comma-separated item ids, at most 500")
    _add_filter_options(rank)
    rank.set_defaults(handler=_rank)


def _add_filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--filter", metavar="NAME", help="a filter of the dataset group")
    parser.add_argument(
        "--filter-values",
        type=_json_object,
        metavar="JSON",
        help='the filter\'s placeholder values, e.g. \'{"GENRES": "\\"Comedy\\""}\'',
    )


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def _add_filter_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    filters = _subcommands(commands, "filter", "create, list, describe or delete filters")
    create = filters.add_parser("create", parents=[common], help="create a filter")
    create.add_argument("group")
    create.add_argument("name")
    create.add_argument("--expression", required=True, help="in the service's filter language")
    create.set_defaults(handler=_create_filter)
    listing = filters.add_parser("list", parents=[common], help="list a group's filters")
    listing.add_argument("group")
    listing.set_defaults(handler=_list_filters)
    for action, handler in (("describe", _describe_filter), ("delete", _delete_filter)):
        command = filters.add_parser(action, parents=[common], help=f"{action} a filter")
        command.add_argument("group")
        command.add_argument("name")
        command.set_defaults(handler=handler)


def _add_batch_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    jobs = {
        "batch-inference": "recommendations, rankings or related items for a JSON Lines file",
        "batch-segment": "the users most likely to take each item of a JSON Lines file",
    }
    for name, help_text in jobs.items():
        job = commands.add_parser(name, parents=[common], help=help_text)
        job.add_argument("group")
        job.add_argument("--solution", required=True, help="the solution whose version scores")
        job.add_argument("--version", help="version id (default: the latest ACTIVE one)")
        job.add_argument("--input", required=True, type=Path, help="JSON Lines, one request a line")
        job.add_argument("--output", type=Path, help="JSON Lines out (default: INPUT.out)")
        what = "items per line" if name == "batch-inference" else "users per item"
        job.add_argument("--num-results", "-n", type=int, default=25, help=f"{what} (default 25)")
        job.add_argument("--workers", type=int, help="scoring threads (default: one per core)")
        target = "an ItemID" if name == "batch-inference" else "a UserID (user-segment)"
        job.add_argument("--filter", metavar="NAME", help=f"{target} filter of the dataset group")
        job.set_defaults(handler=_batch)


def _batch(args: argparse.Namespace) -> Any:
    from engine.batch import run_batch_inference, run_batch_segment
    from engine.training import get_solution

    group = _store(args).dataset_group(args.group)
    version = get_solution(group, args.solution).version(args.version)
    output = args.output or args.input.with_name(args.input.name + ".out")
    options = {
        "num_results": args.num_results,
        "filter": args.filter,
        "show_progress": _progress(args),
        "workers": args.workers,
    }
    job = run_batch_segment if args.command == "batch-segment" else run_batch_inference
    return job(version, args.input, output, **options).describe()


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


def _delete_group(args: argparse.Namespace) -> Any:
    _store(args).delete_dataset_group(args.name)
    return {"deleted": args.name}


def _list_recipes(args: argparse.Namespace) -> Any:
    from recipes import available_recipes, get_recipe

    return {"recipes": {name: get_recipe(name).description for name in available_recipes()}}


def _describe_recipe(args: argparse.Namespace) -> Any:
    from recipes import get_recipe

    recipe = get_recipe(args.name)
    return {
        "recipe": recipe.name,
        "description": recipe.description,
        "hyperparameters": {spec.name: _hyperparameter(spec) for spec in recipe.hyperparameters},
    }


def _hyperparameter(spec: Any) -> dict[str, Any]:
    described = {"type": spec.kind.__name__, "default": spec.default}
    if spec.choices:
        described["choices"] = list(spec.choices)
    elif spec.minimum is not None or spec.maximum is not None:
        described["range"] = [spec.minimum, spec.maximum]
    return described | ({"description": spec.description} if spec.description else {})


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
        try:
            group.create_dataset(args.type, args.schema)
        except AlreadyExistsError as error:
            raise AlreadyExistsError(f"{error}; to import into it, leave out --schema") from None
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

    included = _parse_columns(args.include_columns, "include-columns")
    excluded = _parse_columns(args.exclude_columns, "exclude-columns")
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
        included_columns=included,
        excluded_columns=excluded,
        training_window_start=args.window_start,
        training_window_end=args.window_end,
        training_window_days=args.window_days,
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
        "training_columns",
        "training_window",
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
    from engine.serving_rules import Promotion

    campaign = get_campaign(_store(args).dataset_group(args.group), args.campaign)
    promotion = None if args.promotion is None else Promotion.from_dict(args.promotion)
    answer = campaign.get_recommendations(
        args.user_id,
        args.num_results,
        filter=args.filter,
        filter_values=args.filter_values,
        promotion=promotion,
    )
    return answer.to_dict()


def _create_filter(args: argparse.Namespace) -> Any:
    from engine.filter_store import create_filter

    group = _store(args).dataset_group(args.group)
    return create_filter(group, args.name, args.expression).describe()


def _list_filters(args: argparse.Namespace) -> Any:
    from engine.filter_store import list_filters

    group = _store(args).dataset_group(args.group)
    return {"filters": [found.describe() for found in list_filters(group)]}


def _describe_filter(args: argparse.Namespace) -> Any:
    from engine.filter_store import get_filter

    return get_filter(_store(args).dataset_group(args.group), args.name).describe()


def _delete_filter(args: argparse.Namespace) -> Any:
    from engine.filter_store import delete_filter

    delete_filter(_store(args).dataset_group(args.group), args.name)
    return {"deleted": args.name}


def _similar_items(args: argparse.Namespace) -> Any:
    from engine.campaign import get_campaign

    campaign = get_campaign(_store(args).dataset_group(args.group), args.campaign)
    answer = campaign.get_similar_items(
        args.item_id,
        args.num_results,
        user_id=args.user_id,
        filter=args.filter,
        filter_values=args.filter_values,
    )
    return answer.to_dict()


def _rank(args: argparse.Namespace) -> Any:
    from engine.campaign import get_campaign

    campaign = get_campaign(_store(args).dataset_group(args.group), args.campaign)
    items = [item.strip() for item in args.items.split(",") if item.strip()]
    answer = campaign.get_personalized_ranking(
        args.user_id, items, filter=args.filter, filter_values=args.filter_values
    )
    return answer.to_dict()


def _experiment(args: argparse.Namespace) -> Any:
    import dataclasses

    from engine.experiments import load_experiment, run_experiment

    configs, settings = load_experiment(args.config)
    if args.seed is not None:
        settings = dataclasses.replace(settings, seed=args.seed)
    group = _store(args).dataset_group(args.group)
    result = run_experiment(group, configs, settings, show_progress=_progress(args))

    output = args.output or Path(f"experiment-{group.name}")
    files = {
        "json": str(result.write_json(output / "experiment.json")),
        "chart": str(result.write_chart(output / "experiment.png")),
    }
    emit = _emit_for(args)
    emit(result.table())
    for protocol, counts in result.test_user_counts().items():
        emit(f"test users, {protocol}: " + ", ".join(f"{n} {c}" for n, c in counts.items()))
    emit(f"wrote {files['json']} and {files['chart']}")
    return result.to_dict() | {"files": files}


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
    if result is None or (command in ("demo", "experiment") and not as_json):
        return
    if as_json:
        print(json.dumps(result, default=str))
    else:
        print(render(result))


def _report_error(error: RecengineError, as_json: bool) -> int:
    """Print why the engine refused the input; with ``--json`` also as JSON on stdout."""
    if isinstance(error, SchemaError):
        print(f"recengine: {error.source} is not a valid schema:", file=sys.stderr)
        for reason in error.reasons:
            print(f"  - {reason}", file=sys.stderr)
        details: dict[str, Any] = {"valid": False, "source": error.source, "reasons": error.reasons}
    else:
        print(f"recengine: {error}", file=sys.stderr)
        details = {"error": type(error).__name__, "message": str(error)}
    if as_json:
        print(json.dumps(details, default=str))
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if not getattr(args, "quiet", False):
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    as_json = getattr(args, "json", False)
    try:
        result = args.handler(args)
    except RecengineError as error:
        return _report_error(error, as_json)
    failure = _batch_failure(args.command, result)
    if failure is not None:
        print(f"recengine: {failure}", file=sys.stderr)
        result = {**result, "error": "BatchJobFailed", "message": failure}
    _print_result(result, as_json, args.command)
    return 0 if failure is None else 1


def _batch_failure(command: str, result: Any) -> str | None:
    """Why a batch job failed: every line of it is an error line (it produced nothing)."""
    if command.startswith("batch-") and 0 < result["num_lines"] == result["num_errors"]:
        return f"every line of {result['input']} is an error line; see {result['output']}"
    return None


if __name__ == "__main__":
    sys.exit(main())
