"""Course tooling: exercises built from solutions, the student release, grading and check helpers.

    python -m netlite.course build              # solutions/ -> exercises/
    python -m netlite.course check              # exit 1 when exercises/ is out of date
    python -m netlite.course execute NOTEBOOK   # run a notebook and save its new outputs in place
    python -m netlite.course release DEST       # student copy without solutions or hidden tests
    python -m netlite.course grade SUBMISSIONS  # run and score every student's notebooks

The notebook format is described in ``docs/course-format.md`` and the commands in
``docs/course.md``. Check cells import their helpers from ``netlite.course.checks``. Importing
this package loads neither nbformat nor nbclient; the commands import them when they run.
"""
