"""Face commands: enroll, people, forget, identify, faces export/import, eval faces."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ..errors import RegistryError, StoreError
from ..images import load_image
from ..networks import DETECTORS
from ..registry import FileRegistry, Registry, load_registry, open_registry, save_registry
from ..tools.evaluation import evaluate_detection, evaluate_faces
from . import print_json, settings_from


def register(commands: argparse._SubParsersAction, eval_commands: argparse._SubParsersAction) -> None:
    """Add the face commands to the parser."""
    enroll = commands.add_parser("enroll", help="enroll a person from one or more photos")
    enroll.add_argument("name")
    enroll.add_argument("images", nargs="+", metavar="IMAGE")
    enroll.add_argument("--force", action="store_true", help="enroll even if the face matches another person")
    enroll.set_defaults(handler=cmd_enroll)

    people = commands.add_parser("people", help="list enrolled people")
    people.add_argument("--json", action="store_true")
    people.set_defaults(handler=cmd_people)

    forget = commands.add_parser("forget", help="remove a person and their emotion records")
    forget.add_argument("name")
    forget.set_defaults(handler=cmd_forget)

    identify = commands.add_parser("identify", help="name the faces in images")
    identify.add_argument("images", nargs="+", metavar="IMAGE")
    identify.add_argument("--tolerance", type=float, default=None)
    identify.add_argument("--json", action="store_true")
    identify.set_defaults(handler=cmd_identify)

    transfer = commands.add_parser("faces", help="move enrolled people between a registry file and the registry in use")
    what = transfer.add_subparsers(dest="faces_command", required=True, metavar="WHAT")
    export = what.add_parser("export", help="write the enrolled people to a registry file (faces.pkl format)")
    export.add_argument("file", type=Path)
    export.set_defaults(handler=cmd_faces_export)
    load = what.add_parser(
        "import", help="enroll the people of a registry file (replacing their encodings if enrolled)"
    )
    load.add_argument("file", type=Path)
    load.set_defaults(handler=cmd_faces_import)

    faces = eval_commands.add_parser(
        "faces", help="leave-one-out identification over DIR/<person>/*, and detection figures"
    )
    faces.add_argument("dir", type=Path)
    faces.add_argument("--tolerance", type=float, default=None)
    faces.add_argument(
        "--detector", choices=DETECTORS, default=None, help="face detector (default: settings, env EMOTION_DETECTOR)"
    )
    faces.add_argument("--json", action="store_true")
    faces.set_defaults(handler=cmd_eval_faces)


def cmd_enroll(args: argparse.Namespace) -> int:
    from ..recognition import enroll

    settings = settings_from(args)
    store = open_registry(settings)
    added = enroll(
        store,
        args.name,
        args.images,
        tolerance=settings.tolerance,
        force=args.force,
        min_face=settings.min_enroll_face,
        max_pixels=settings.max_image_pixels,
    )
    print(f"enrolled {args.name.strip()}: {added} encoding(s) added to {store.location}")
    return 0


def cmd_people(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    store = open_registry(settings)
    people = store.load().people()
    if args.json:
        print_json([{"name": name, "encodings": count} for name, count in people.items()])
    elif not people:
        print(f"nobody is enrolled ({store.location})")
    else:
        for name, count in people.items():
            print(f"{name}\t{count}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from ..audit import AuditLog
    from ..people import forget_person

    settings = settings_from(args)
    audit = AuditLog(settings.db_url)
    actor = f"{getpass.getuser()} (command line)"
    result = forget_person(
        open_registry(settings), settings.db_url, args.name, audit, actor, "command line", settings.db_timeouts
    )
    if result.records_error is not None:
        raise StoreError(result.records_error)
    if result.audit_error is not None:
        raise StoreError(f"forgot {result.name}, but the audit log still names them: {result.audit_error}")
    print(f"forgot {result.name} and {result.records} emotion record(s); the audit log names them {result.pseudonym}")
    return 0


def cmd_identify(args: argparse.Namespace) -> int:
    from ..recognition import Matcher, identify

    settings = settings_from(args, tolerance=args.tolerance)
    matcher = Matcher(open_registry(settings).load(), settings.tolerance)
    results = []
    for path in args.images:
        rgb = load_image(path, max_pixels=settings.max_image_pixels)
        faces = identify(rgb, matcher)
        results.append(
            {
                "image": path,
                "faces": [
                    {
                        "name": f.name,
                        "distance": None if f.distance is None else round(f.distance, 4),
                        "box": list(f.box),
                    }
                    for f in faces
                ],
            }
        )
    if args.json:
        print_json(results)
    else:
        for result in results:
            names = (
                ", ".join(
                    f"{f['name']} ({f['distance']:.2f})" if f["distance"] is not None else f["name"]
                    for f in result["faces"]
                )
                or "no face found"
            )
            print(f"{result['image']}: {names}")
    return 0


def cmd_faces_export(args: argparse.Namespace) -> int:
    store = open_registry(settings_from(args))
    registry = store.load()
    save_registry(args.file, registry)
    print(f"exported {len(registry.people())} people ({len(registry)} encodings) from {store.location} to {args.file}")
    return 0


def cmd_faces_import(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise RegistryError(f"{args.file}: no such registry file")
    incoming = load_registry(args.file)  # the restricted unpickler: a file can only hold names and arrays
    store = open_registry(settings_from(args))
    if isinstance(store, FileRegistry) and store.path.resolve() == args.file.resolve():
        raise RegistryError(f"{args.file} is the registry in use already")

    def merge(registry: Registry) -> Registry:
        for name in incoming.people():
            registry = registry.without_person(name).with_person(name, incoming.encodings_of(name))
            registry = registry.with_baseline(name, incoming.baselines.get(name))
        return registry

    store.update(merge)
    print(
        f"imported {len(incoming.people())} people ({len(incoming)} encodings) from {args.file} into {store.location}"
    )
    return 0


def cmd_eval_faces(args: argparse.Namespace) -> int:
    from ..detectors import load_detector

    settings = settings_from(args, tolerance=args.tolerance, detector=args.detector)
    detector = load_detector(settings.detector, settings.models_dir)
    report = evaluate_faces(args.dir, settings.tolerance, progress=sys.stderr, detector=detector)
    report["detection"] = evaluate_detection(args.dir, settings, progress=sys.stderr)
    if args.json:
        print_json(report)
        return 0
    detection = report["detection"]
    print(
        f"photos {report['n']}  tolerance {settings.tolerance:.2f}  detector {detection['detector']}\n"
        f"accuracy {report['accuracy']:.3f}  unknown {report['unknown_rate']:.3f}  "
        f"wrong name {report['wrong_rate']:.3f}\n"
        f"strangers {report['strangers']}  false accepts {report['false_accept_rate']:.3f}"
    )
    if detection["recall"] is not None:
        print(
            f"annotated faces {detection['annotated_faces']} in {detection['annotated_images']} images: "
            f"recall {detection['recall']:.3f}  precision {detection['precision']:.3f} "
            f"(IoU >= {detection['iou_threshold']})"
        )
    print(
        f"single-face photos {detection['single_face_photos']}: exactly one face {detection['exactly_one_face']}  "
        f"false faces {detection['false_faces']}  no face {detection['missed_photos']}\n"
        f"detection CPU {detection['cpu_ms_per_frame']:.1f} ms per 640x480 frame at {detection['detect_width']} px"
    )
    return 0
