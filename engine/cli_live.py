"""The ``recengine`` commands for live data and the solution lifecycle.

``event-tracker create|describe``, ``event put|put-users|put-items``,
``version create|list|describe|stop|delete`` and ``campaign update|describe|list|delete``. They are
added to the parser of :mod:`engine.cli`, which prints what a handler returns.

``version create --background`` starts the training in a detached process of its own
(``python -m engine.cli_live train-worker``) and returns as soon as the version exists;
``version describe`` follows it and ``version stop`` stops it. The worker logs to
``training.log`` in the version's directory.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["add_campaign_commands", "add_live_commands"]

logger = logging.getLogger(__name__)

WORKER_LOG = "training.log"


def add_live_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``event-tracker``, ``event`` and ``version`` to the command subparsers."""
    _add_tracker_commands(commands, common)
    _add_event_commands(commands, common)
    _add_version_commands(commands, common)


def add_campaign_commands(campaigns: Any, common: argparse.ArgumentParser) -> None:
    """Add ``update``, ``describe``, ``list`` and ``delete`` to the ``campaign`` subparsers."""
    update = campaigns.add_parser(
        "update", parents=[common], help="switch a campaign to another version"
    )
    update.add_argument("group")
    update.add_argument("name")
    update.add_argument("--version", help="version id to serve (of the campaign's solution)")
    update.add_argument("--solution", help="serve a version of this solution instead")
    sync = update.add_mutually_exclusive_group()
    sync.add_argument(
        "--sync-with-latest",
        dest="sync",
        action="store_true",
        default=None,
        help="follow the solution's latest ACTIVE version from now on",
    )
    sync.add_argument(
        "--no-sync-with-latest",
        dest="sync",
        action="store_false",
        help="stop following it and keep the version given (or served now)",
    )
    update.set_defaults(handler=_update_campaign)
    for action, help_text, handler in (
        ("describe", "a campaign's record", _describe_campaign),
        ("delete", "delete a campaign (its versions stay)", _delete_campaign),
    ):
        command = campaigns.add_parser(action, parents=[common], help=help_text)
        command.add_argument("group")
        command.add_argument("name")
        command.set_defaults(handler=handler)
    listing = campaigns.add_parser("list", parents=[common], help="the group's campaigns")
    listing.add_argument("group")
    listing.set_defaults(handler=_list_campaigns)


def _add_tracker_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    trackers = _subcommands(commands, "event-tracker", "create a group's event tracker")
    create = trackers.add_parser("create", parents=[common], help="create the event tracker")
    create.add_argument("group")
    create.add_argument("name")
    create.set_defaults(handler=_create_tracker)
    describe = trackers.add_parser("describe", parents=[common], help="its tracking id")
    describe.add_argument("group")
    describe.set_defaults(handler=_describe_tracker)


def _add_event_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    events = _subcommands(commands, "event", "put live events, users and items")
    put = events.add_parser("put", parents=[common], help="put 1-10 events (PutEvents)")
    put.add_argument("--tracking-id", required=True)
    put.add_argument("--session-id", required=True)
    put.add_argument("--user-id", help="omit for an anonymous visitor")
    put.add_argument(
        "events",
        nargs="+",
        metavar="EVENT_JSON",
        help='an event as the service writes it: \'{"eventType": "watch", "sentAt": '
        '1700000000, "itemId": "v17"}\'',
    )
    put.set_defaults(handler=_put_events)
    for kind in ("users", "items"):
        records = events.add_parser(
            f"put-{kind}", parents=[common], help=f"add or replace 1-10 {kind}"
        )
        records.add_argument("group")
        records.add_argument(
            "records",
            nargs="+",
            metavar="RECORD_JSON",
            help=f'\'{{"{kind[:-1]}Id": "x1", "properties": "{{\\"genre\\": \\"a\\"}}"}}\'',
        )
        records.set_defaults(handler=_put_records, kind=kind)


def _add_version_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    versions = _subcommands(commands, "version", "create, list, stop and delete versions")
    create = versions.add_parser("create", parents=[common], help="train a new version")
    _version_arguments(create, with_id=False)
    create.add_argument("--training-mode", default="FULL", choices=["FULL", "UPDATE"])
    create.add_argument("--background", action="store_true", help="return once the version exists")
    create.set_defaults(handler=_create_version)
    listing = versions.add_parser("list", parents=[common], help="a solution's versions")
    _version_arguments(listing, with_id=False)
    listing.set_defaults(handler=_list_versions)
    for action, text, handler in (
        ("describe", "a version's status, metrics and counts", _describe_version),
        ("stop", "stop a version being created", _stop_version),
        ("delete", "delete a version no campaign serves", _delete_version),
    ):
        parser = versions.add_parser(action, parents=[common], help=text)
        _version_arguments(parser, with_id=True)
        parser.set_defaults(handler=handler)


def _subcommands(commands: Any, name: str, help_text: str) -> Any:
    parser = commands.add_parser(name, help=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def _version_arguments(parser: argparse.ArgumentParser, with_id: bool) -> None:
    parser.add_argument("group")
    parser.add_argument("solution")
    if with_id:
        parser.add_argument("version", help="version id, such as v3")


def _group(args: argparse.Namespace) -> Any:
    from engine.store import Store

    return Store(getattr(args, "home", None)).dataset_group(args.group)


def _solution(args: argparse.Namespace) -> Any:
    from engine.training import get_solution

    return get_solution(_group(args), args.solution)


def _create_tracker(args: argparse.Namespace) -> Any:
    from engine.events import create_event_tracker

    return create_event_tracker(_group(args), args.name).describe()


def _describe_tracker(args: argparse.Namespace) -> Any:
    from engine.events import get_event_tracker

    return get_event_tracker(_group(args)).describe()


def _put_events(args: argparse.Namespace) -> Any:
    from engine.events import put_events
    from engine.store import Store

    events = [_json_object(text, "EVENT_JSON") for text in args.events]
    store = Store(getattr(args, "home", None))
    put_events(store, args.tracking_id, args.session_id, events, user_id=args.user_id)
    return {"accepted": len(events)}


def _put_records(args: argparse.Namespace) -> Any:
    from engine.events import put_items, put_users

    records = [_json_object(text, "RECORD_JSON") for text in args.records]
    (put_users if args.kind == "users" else put_items)(_group(args), records)
    return {"accepted": len(records)}


def _json_object(text: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(
            f"recengine: {name} must be a JSON object: {error.msg} in {text!r}"
        ) from None
    if not isinstance(value, dict):
        raise SystemExit(f"recengine: {name} must be a JSON object, got {text!r}")
    return value


def _create_version(args: argparse.Namespace) -> Any:
    from engine.training import summarize_version

    if args.background:
        return _start_worker(args)
    solution = _solution(args)
    show_progress = not getattr(args, "quiet", False) and not getattr(args, "json", False)
    version = solution.train(training_mode=args.training_mode, show_progress=show_progress)
    return summarize_version(version) | {"metrics": version.metrics}


def _list_versions(args: argparse.Namespace) -> Any:
    from engine.versions import list_solution_versions

    return {"solutionVersions": list_solution_versions(_solution(args))}


def _describe_version(args: argparse.Namespace) -> Any:
    from engine.versions import describe_solution_version

    return describe_solution_version(_solution(args), args.version)


def _stop_version(args: argparse.Namespace) -> Any:
    from engine.versions import stop_solution_version_creation

    solution = _solution(args)
    stop_solution_version_creation(solution, args.version)
    return {"version_id": args.version, "status": solution.version(args.version).status}


def _delete_version(args: argparse.Namespace) -> Any:
    from engine.versions import delete_solution_version

    delete_solution_version(_solution(args), args.version)
    return {"deleted": args.version}


def _update_campaign(args: argparse.Namespace) -> Any:
    from engine.campaign import update_campaign
    from engine.campaign_records import read_campaign_record
    from engine.training import get_solution

    group = _group(args)
    version = None
    if args.version is not None or args.solution is not None:
        name = args.solution or read_campaign_record(group, args.name)["solution"]
        version = get_solution(group, name).version(args.version)
    return update_campaign(group, args.name, version, sync_with_latest=args.sync)


def _describe_campaign(args: argparse.Namespace) -> Any:
    from engine.campaign_records import read_campaign_record

    group = _group(args)
    return _with_serving(group, read_campaign_record(group, args.name))


def _with_serving(group: Any, record: dict[str, Any]) -> dict[str, Any]:
    """A campaign's record and the version it serves now."""
    from engine.campaign_records import served_version

    served = served_version(group, record)
    return record | {"serving": {"solution": record["solution"], "version_id": served.version_id}}


def _list_campaigns(args: argparse.Namespace) -> Any:
    from engine.campaign_records import campaign_records

    group = _group(args)
    return {"campaigns": [_with_serving(group, record) for record in campaign_records(group)]}


def _delete_campaign(args: argparse.Namespace) -> Any:
    from engine.campaign import delete_campaign

    delete_campaign(_group(args), args.name)
    return {"deleted": args.name}


def _start_worker(args: argparse.Namespace) -> Any:
    """Start the training in a detached process and return once its version exists."""
    home = str(getattr(args, "home", None) or "")
    command = [sys.executable, "-m", "engine.cli_live", "train-worker", home, args.group]
    command += [args.solution, args.training_mode]
    worker = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert worker.stdout is not None
    report = json.loads(worker.stdout.readline() or '{"error": "the worker ended silently"}')
    worker.stdout.close()
    if "error" in report:
        worker.wait()
        raise SystemExit(f"recengine: {report['error']}")

    # Reap the worker if it ends while this process still runs (a library caller's).
    threading.Thread(target=worker.wait, name="reap-train-worker", daemon=True).start()
    return report | {"worker_pid": worker.pid}


def _train_worker(argv: Sequence[str]) -> int:
    """Body of the detached worker: create the version, report it, train it."""
    from engine.errors import RecengineError
    from engine.store import Store
    from engine.training import get_solution, summarize_version

    home, group, solution_name, training_mode = argv
    try:
        solution = get_solution(Store(home or None).dataset_group(group), solution_name)
        job = solution.train_in_background(training_mode=training_mode)
    except RecengineError as error:
        print(json.dumps({"error": str(error)}), flush=True)
        return 1
    _log_to(solution.path / job.version_id / WORKER_LOG)
    print(json.dumps(summarize_version(job.version())), flush=True)

    # The caller has what it needs; nothing more goes to its pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0 if job.wait().status == "ACTIVE" else 1


def _log_to(path: Any) -> None:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


if __name__ == "__main__":
    if sys.argv[1:2] != ["train-worker"]:
        raise SystemExit("usage: python -m engine.cli_live train-worker HOME GROUP SOLUTION MODE")
    sys.exit(_train_worker(sys.argv[2:]))
