"""Command line of the course tooling: ``python -m netlite.course build | check | execute | release | grade | lab``.

Exit status: 0 on success, 1 when ``check`` finds ``exercises/`` out of date, ``execute`` finds a
failing cell or ``release`` finds a leak, 2 on invalid input (a malformed notebook, a missing folder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m netlite.course",
        description=(
            "Build exercises from solutions, check them, save notebook outputs, release the student kit, "
            "grade submissions, start JupyterLab."
        ),
    )
    parser.add_argument(
        "--root", type=Path, default=Path("."),
        help="course repository with solutions/ and exercises/ (default: the current folder)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="write exercises/ from solutions/")
    commands.add_parser("check", help="exit with status 1 when exercises/ is out of date with solutions/")
    execute = commands.add_parser(
        "execute", help="run notebooks top to bottom in a fresh kernel and save their new outputs in place",
    )
    execute.add_argument("notebooks", type=Path, nargs="+", metavar="NOTEBOOK", help="notebook file to run and save")

    release = commands.add_parser("release", help="write the student release to DEST, refusing any leak")
    release.add_argument("dest", type=Path, metavar="DEST", help="new or empty folder for the release")
    release.add_argument(
        "--strict", action="store_true",
        help="also reject solution lines found in the library (netlite/), which are a warning by default",
    )

    grade = commands.add_parser("grade", help="run and score the notebooks in every student folder of SUBMISSIONS_DIR")
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR", help="one folder per student")
    grade.add_argument("--out", type=Path, default=None, help="output folder (default: SUBMISSIONS_DIR-graded)")
    grade.add_argument(
        "--cell-timeout", type=float, default=None, metavar="S",
        help="seconds a cell may run before it is interrupted and counts as an error (default: 300)",
    )
    grade.add_argument(
        "--notebook-timeout", type=float, default=None, metavar="S",
        help="seconds a whole notebook may run before its kernel is killed (default: 1800)",
    )
    grade.add_argument("--jobs", type=int, default=1, help="notebooks run at the same time (default: 1)")

    lab = commands.add_parser("lab", help="start JupyterLab on the course folder")
    lab.add_argument("--port", type=int, default=None, help="port of the Jupyter server (default: JupyterLab's)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    return parser


def main(argv=None) -> int:
    arguments = _parser().parse_args(argv)
    from . import build as course_build

    try:
        if arguments.command == "build":
            course_build.build(arguments.root)
        elif arguments.command == "check":
            report = course_build.check(arguments.root)
            if not report.up_to_date:
                print(
                    f"{course_build.EXERCISES_DIR}/ is out of date with {course_build.SOLUTIONS_DIR}/:\n"
                    f"{report.describe()}\nrun 'python -m netlite.course build' to regenerate it",
                    file=sys.stderr,
                )
                return 1
            print(f"{course_build.EXERCISES_DIR}/ is up to date with {course_build.SOLUTIONS_DIR}/")
        elif arguments.command == "execute":
            from . import execute as course_execute

            for path in arguments.notebooks:
                print(f"running {path}", flush=True)
                try:
                    course_execute.execute_in_place(path)
                except course_execute.NotebookRunError as error:
                    print(f"execute failed: {error}", file=sys.stderr)
                    return 1
                print(f"saved the outputs of {path}")
        elif arguments.command == "release":
            from . import release as course_release

            try:
                course_release.release(arguments.root, arguments.dest, strict=arguments.strict)
            except course_release.ReleaseError as error:
                print(f"release failed: {error}", file=sys.stderr)
                return 1
        elif arguments.command == "grade":
            from . import grade as course_grade

            options = {}
            if arguments.cell_timeout is not None:
                options["cell_timeout"] = arguments.cell_timeout
            if arguments.notebook_timeout is not None:
                options["notebook_timeout"] = arguments.notebook_timeout
            course_grade.grade(arguments.root, arguments.submissions, out=arguments.out, jobs=arguments.jobs, **options)
        elif arguments.command == "lab":
            from . import lab as course_lab

            try:
                return course_lab.start_lab(arguments.root, port=arguments.port, no_browser=arguments.no_browser)
            except KeyboardInterrupt:
                # Ctrl+C before JupyterLab started. Once it runs, start_lab handles Ctrl+C itself.
                return course_lab.EXIT_STATUS_INTERRUPTED
    except (course_build.CourseFormatError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
