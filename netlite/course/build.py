"""Generate the students' exercise notebooks from the instructors' solution notebooks.

The format is described in ``docs/course-format.md``. In short, for every notebook in ``solutions/``:

- solution cells lose the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, which
  become ``raise NotImplementedError("<grade_id>: <hint>")`` at the indentation of the fence;
- check cells lose the lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``;
- solution, check and ``uses-exercise`` cells lose their outputs and execution counts, and get the
  tag ``raises-exception`` so that nbval and "Run All" expect them to fail in the unsolved notebook.

A malformed solution notebook raises ``CourseFormatError`` naming the file, the cell and what to fix.
``nbformat`` is imported on first use, because importing it takes seconds.
"""

from __future__ import annotations

import ast
import copy
import difflib
import json
import os
import re
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS)

# Words that a reworded marker may have besides marker words ("### End of the hidden tests here").
NEAR_MISS_FILLERS = {"of", "the", "here", "a", "an", "now"}
# Words that close a fence in a reworded marker ("### HIDDEN TESTS DONE").
NEAR_MISS_CLOSING_WORDS = ("end", "stop", "done", "finish", "close", "above", "until")
# The readers of hidden tests. With a test word they mark a fence ("### INSTRUCTOR TESTS", "# Tests for grading only").
AUDIENCE_WORDS = ("instructor", "autograder", "grader", "grading", "marking")
# The audience words that name an activity: they count only where they name a purpose ("for grading").
GRADING_ACTIVITY_WORDS = ("grading", "marking")
# Words for being seen. After a negation they mark tests as hidden: "# More tests (not visible)".
VISIBILITY_WORDS = ("visible", "shown", "show", "see", "seen")
NEGATION_WORDS = ("not", "never", "without")
STUDENT_WORDS = ("student", "learner")
# Words that place a fence even after "your", which otherwise makes a prompt ("# Begin your solution").
FENCE_WORDS = ("begin", "beginning", "start", "end", "stop")
# A model solution by another name: "# Reference implementation", "# Instructor's version".
MODEL_WORDS = ("reference", "sample", "official", "complete", "worked", "correct", "instructor", "model", "solved")
MODEL_NOUNS = ("implementation", "version", "code", "answer", "solution")
# Pairs of a model word and a noun that seldom describe ordinary code, so that they count in longer
# comments too: "# Full reference implementation of the layer", but not "# Correct code for the gradient"
# or "# character reference code".
STRONG_MODEL_WORDS = ("reference", "official", "complete", "worked", "instructor", "solved")
STRONG_MODEL_NOUNS = ("implementation", "answer", "solution")
# Words that name who may see a solution, or its removal: "# Solution below (removed for students)".
SOLUTION_AUDIENCE_WORDS = ("student", "learner", "instructor", "teacher", "grader", "autograder", "remove", "removed")
# Words after "hidden" in a network's sense, not a course's: "# hidden layer", "# HIDDEN UNITS", "# hidden b1".
HIDDEN_LAYER_WORDS = {
    "layer", "unit", "neuron", "size", "state", "dimension", "dim", "feature", "activation", "node", "weight",
    "representation", "vector", "value", "variable", "bias", "biase", "w", "b", "z", "h", "gradient", "grad",
    "output", "input", "shape", "matrix", "delta", "error", "logit", "tanh", "relu", "sigmoid", "pre",
    "preactivation", "derivative", "term", "outputs",
}
HINT_PREFIX = "# Hint:"
DEFAULT_HINT = "not implemented yet; write your solution in place of this line"
USES_EXERCISE_TAG = "uses-exercise"
RAISES_EXCEPTION_TAG = "raises-exception"
KERNEL_NAME = "python3"

SOLUTIONS_DIR = "solutions"
EXERCISES_DIR = "exercises"


class CourseFormatError(ValueError):
    """A solution notebook or course folder does not follow docs/course-format.md."""


@dataclass
class CheckCell:
    """One graded check cell of a solution notebook, with its hidden tests."""

    grade_id: str
    points: float
    index: int
    cell: dict


@dataclass
class StaleReport:
    """Differences between ``exercises/`` on disk and the notebooks built from ``solutions/``."""

    missing: list[str] = field(default_factory=list)
    outdated: dict[str, str] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not (self.missing or self.outdated or self.extra)

    def describe(self) -> str:
        lines = []
        for name in self.missing:
            lines.append(f"  {name}: missing from {EXERCISES_DIR}/")
        for name, difference in self.outdated.items():
            lines.append(f"  {name}: out of date ({difference})")
        for name in self.extra:
            lines.append(f"  {name}: has no notebook of that name in {SOLUTIONS_DIR}/")
        return "\n".join(lines)


# -- reading and writing notebooks ---------------------------------------------


def read_notebook(path: Path):
    """Read a notebook with nbformat, raising CourseFormatError when it is not valid JSON."""
    import nbformat

    try:
        return nbformat.read(os.fspath(path), as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as error:
        raise CourseFormatError(f"{path}: not a readable notebook ({error})") from None


def notebook_text(notebook) -> str:
    """Serialize a notebook the way Jupyter saves it (indent 1, sorted keys, final newline)."""
    import nbformat

    return nbformat.writes(notebook) + "\n"


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def list_notebooks(folder: Path) -> list[Path]:
    """Return the notebooks directly in ``folder``, sorted by name (the course order)."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("*.ipynb") if not path.name.startswith("."))


def solutions_folder(root: Path) -> Path:
    folder = Path(root) / SOLUTIONS_DIR
    if not folder.is_dir():
        raise CourseFormatError(
            f"no {SOLUTIONS_DIR}/ folder in {Path(root).resolve()}; run the command from the course "
            f"repository or pass --root"
        )
    return folder


# -- cells ---------------------------------------------------------------------


def source_text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def nbgrader_metadata(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_solution_cell(cell) -> bool:
    return bool(nbgrader_metadata(cell).get("solution", False))


def is_check_cell(cell) -> bool:
    return bool(nbgrader_metadata(cell).get("grade", False))


def cell_tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def uses_exercise(cell) -> bool:
    return USES_EXERCISE_TAG in cell_tags(cell)


def describe_cell(index: int, cell) -> str:
    """Name a cell by its index among all cells (from 0) and its grade_id, or else its first line.

    nbval numbers code cells only, so the first line is what finds the cell in both.
    """
    grade_id = nbgrader_metadata(cell).get("grade_id")
    if isinstance(grade_id, str) and grade_id.strip():
        return f"cell {index} ({grade_id!r})"
    first_line = next((line.strip() for line in source_text(cell).splitlines() if line.strip()), "")
    if not first_line:
        return f"cell {index} (empty)"
    if len(first_line) > 40:
        first_line = first_line[:37] + "..."
    return f"cell {index} (starting {first_line!r})"


def _marker_on_line(line: str) -> str | None:
    stripped = line.strip()
    for marker in MARKERS:
        if stripped == marker:
            return marker
    return None


@dataclass(frozen=True)
class _NearMiss:
    """A comment line that looks like a marker, and the words, as written, that make it look so."""

    marker: str
    words: list[str]


def _near_miss_marker(line: str, cell_kind: str | None = None) -> str | None:
    """Return the marker that a comment line was meant to be, else None (see ``_near_miss``)."""
    near_miss = _near_miss(line, cell_kind)
    return near_miss.marker if near_miss else None


def _near_miss(line: str, cell_kind: str | None = None) -> _NearMiss | None:
    """Return the marker that a comment line was meant to be, with the words that matched, else None.

    The build removes only exact markers, so a near miss would pass the solution or the hidden tests
    on to the students. ``cell_kind`` is ``"solution"``, ``"check"`` or None for another code cell.
    In every code cell, a comment counts, in any case and after any number of ``#``, when

    - its first words are a marker's words, with more words or none after them
      (``### BEGIN HIDDEN TESTS  # note``, ``# Begin solution``), or
    - it has a marker's words, each with at most one letter wrong, added, left out or swapped with
      its neighbour (``### BESIN SOLUTION``, ``### EDN HIDEN TESTS``), or its words written
      together are nearly a marker's (``### BEGINSOLUTION``).

    Where the build cuts, in solution and check cells, a near miss leaks, so looser rules apply.
    They are the functions in ``_SOLUTION_CELL_RULES`` and ``_CHECK_CELL_RULES``, each described
    in its docstring, and docs/course-format.md lists them for instructors.

    A comment with a closing word (END, STOP, DONE, FINISH, CLOSE, ABOVE, UNTIL) is taken for the
    closing marker. The words returned are those of the strict rule that matched, or else of every
    looser rule that matched, so that the message can name them all at once.
    """
    stripped = line.strip()
    if not stripped.startswith("#") or stripped in MARKERS or stripped.startswith(HINT_PREFIX):
        return None
    comment = _read_comment(stripped)
    texts = [word.text for word in comment.words]

    for marker in MARKERS:
        marker_words = [_singular(word) for word in marker.lower().lstrip("# ").split()]
        if texts[: len(marker_words)] == marker_words:
            return _NearMiss(marker, _written(comment.words[: len(marker_words)]))
        if _like("".join(texts), ["".join(marker_words)], 0.93):
            return _NearMiss(marker, _written(comment.words))
        if len(texts) == len(marker_words) and all(map(_one_edit_apart, texts, marker_words)):
            return _NearMiss(marker, _written(comment.words))
    if cell_kind is None or not comment.words:
        return None

    rules = _SOLUTION_CELL_RULES if cell_kind == "solution" else _CHECK_CELL_RULES
    matched = [word for rule in rules for word in rule(comment)]
    if not matched:
        return None
    begin, end = (BEGIN_SOLUTION, END_SOLUTION) if cell_kind == "solution" else (BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS)
    closing = any(_like(text, NEAR_MISS_CLOSING_WORDS, 1.0) for text in texts)
    # In the order of the line, because a rule lists its words in the order it looks for them.
    in_line_order = [word for word in comment.words if any(word is other for other in matched)]
    return _NearMiss(end if closing else begin, _written(in_line_order))


@dataclass(frozen=True)
class _Word:
    """A word of a comment line, as the near-miss rules compare it."""

    text: str  # lower case, letters only, one plural s dropped by _singular
    raw: str  # lower case and letters only, with its plural s, so that ENDS is not taken for END
    in_name: bool  # joined by "_" to the part before it, as hidden in num_hidden
    assigned: bool  # followed by "=", as hidden in "hidden = 5"
    written: str  # as in the line, without punctuation around it, for the build's message


@dataclass(frozen=True)
class _Comment:
    """A comment line split into words for the near-miss rules."""

    words: list[_Word]
    content: list[_Word]  # the words that are not fillers (of, the, here ...)
    styled: bool  # written like a marker: after ### or in capitals


def _read_comment(stripped: str) -> _Comment:
    """Split a comment line into words at spaces, hyphens and underscores."""
    words = []
    for part in re.finditer(r"[^\s_-]+", stripped):
        # Letters only, so that a look-alike letter from another alphabet drops out instead of splitting the word.
        raw = re.sub(r"[^a-z:]", "", part.group().lower()).strip(":")
        if not raw:
            continue
        in_name = part.start() > 0 and stripped[part.start() - 1] == "_"
        assigned = re.match(r"\w*\s*=", stripped[part.start() :]) is not None
        written = part.group().strip(string.punctuation)
        words.append(_Word(_singular(raw), raw, in_name, assigned, written))
    content = [word for word in words if word.text not in NEAR_MISS_FILLERS]
    return _Comment(words, content, styled=stripped.startswith("###") or stripped.isupper())


def _written(words: list[_Word]) -> list[str]:
    """Return the words as written in the line, each once."""
    return list(dict.fromkeys(word.written for word in words))


def _styled_fence_words(comment: _Comment) -> list[_Word]:
    """Match a comment written like a marker whose first word is BEGIN, START, END or STOP: ``### BEGIN CODE``."""
    first = comment.words[0]
    if comment.styled and (_starts_fence(first) or _like(first.raw, ("start", "stop"), 1.0)):
        return [first]
    return []


def _solution_name_words(comment: _Comment) -> list[_Word]:
    """Match a comment that names a solution or an answer, written like a marker or in at most four words.

    Fillers (of, the, here) do not count: ``# Solution``, ``# The answer starts here``. After "your"
    the word is a prompt for the student's work (``# Write your answer below``), unless a fence
    word places a fence as well: ``# Begin your solution``.
    """
    if not (comment.styled or len(comment.content) <= 4):
        return []
    fence_words = [word for word in comment.words if word.text in FENCE_WORDS]
    found = []
    for index, word in enumerate(comment.words):
        if not _is_solution_word(word.text):
            continue
        if index > 0 and comment.words[index - 1].text == "your":
            if not fence_words:
                continue
            found.extend(fence_words)
        found.append(word)
    return found


def _solution_audience_words(comment: _Comment) -> list[_Word]:
    """Match a solution or an answer named with its audience or its removal, at any length.

    ``# Solution, not shown to students``, ``# Worked solution for the instructor only``, ``# answer
    below, removed by the build``. After "your" the word is a prompt, as in ``_solution_name_words``.
    """
    audience = [word for word in comment.words if word.text in SOLUTION_AUDIENCE_WORDS]
    solutions = [
        word
        for index, word in enumerate(comment.words)
        if _is_solution_word(word.text) and not (index > 0 and comment.words[index - 1].text == "your")
    ]
    return solutions + audience if solutions and audience else []


def _model_solution_words(comment: _Comment) -> list[_Word]:
    """Match a model solution by another name: in at most three words, six with a strong model word, or with students named.

    ``# Reference implementation``, ``# Instructor's version``, ``# Full reference implementation of
    the layer``, ``# Complete implementation, removed for students``, but not ``# Correct code for the
    gradient``.
    """
    students = [word for word in comment.words if word.text in STUDENT_WORDS]
    found = []
    for first, second in zip(comment.words, comment.words[1:]):
        if first.text not in MODEL_WORDS or second.text not in MODEL_NOUNS:
            continue
        strong = first.text in STRONG_MODEL_WORDS and second.text in STRONG_MODEL_NOUNS
        word_limit = 6 if strong else 3
        if len(comment.content) <= word_limit or students:
            found.extend([first, second])
    return found + students if found else []


def _hiding_words(comment: _Comment) -> list[_Word]:
    """Match HIDDEN, SECRET, WITHHELD and the like in a short comment or near a test word.

    A comment counts when it has at most five words apart from fillers (``### HIDDEN``, ``# withheld
    tests``) or has such a word within two words of a test word at any length (``# test cases
    hidden``). PRIVATE alone counts only when written like a marker, because ``# Private helpers``
    is a common comment. The readers of hidden tests (instructor, autograder, grader) count with a
    test word anywhere (``### INSTRUCTOR TESTS``). GRADING and MARKING count only where they name
    a purpose, after "for" or "when" or before "only" or a test word (``# Tests for grading only``, not
    ``# Test marking of the largest class``).
    """
    found = []
    for index, word in enumerate(comment.words):
        if not _is_hiding_word(word.text) or _names_network_part(comment.words, index):
            continue
        if word.text in AUDIENCE_WORDS:
            if word.text in GRADING_ACTIVITY_WORDS and not _names_purpose(comment.words, index):
                continue
            tests = [other for other in comment.content if other is not word and _is_test_word(other.text)]
            found.extend([word] + tests if tests else [])
            continue
        near = comment.words[max(index - 2, 0) : index] + comment.words[index + 1 : index + 3]
        near_tests = [other for other in near if _is_test_word(other.text)]
        short = len(comment.content) <= 5 and (comment.styled or not _like(word.text, ("private",), 0.9))
        if short or near_tests:
            found.extend([word] + near_tests)
    return found


def _names_network_part(words: list[_Word], index: int) -> bool:
    """Return True if the hiding word at ``index`` names a part of a network, not hidden tests.

    Such a word comes before a network word (``# hidden state check``, but not ``# hidden unit
    tests``), after a one-letter name (``# W hidden``), or is part of a name in code
    (``num_hidden``, ``hidden = 5``).
    """
    word = words[index]
    after = [other.text for other in words[index + 1 : index + 3]]
    before_network_word = bool(after) and after[0] in HIDDEN_LAYER_WORDS and after != ["unit", "test"]
    after_one_letter = index > 0 and len(words[index - 1].text) == 1
    return before_network_word or after_one_letter or word.in_name or word.assigned


def _names_purpose(words: list[_Word], index: int) -> bool:
    """Return True if GRADING or MARKING at ``index`` follows "for" or "when", or comes before "only" or a test word."""
    after_for = index > 0 and words[index - 1].text in ("for", "when")
    following = words[index + 1].text if index + 1 < len(words) else ""
    return after_for or following == "only" or _is_test_word(following)


def _student_negation_words(comment: _Comment) -> list[_Word]:
    """Match students or learners named with NOT, NEVER or WITHOUT: ``# Tests the students do not see``.

    The comment must have at most five words apart from fillers, or the negation must come at most
    two words before VISIBLE, SHOWN or SEE, so ``# Students should not need to change this check``
    does not count.
    """
    students = [word for word in comment.words if word.text in STUDENT_WORDS]
    negations = [word for word in comment.words if word.text in NEGATION_WORDS]
    unseen = _negated_visibility_words(comment.words)
    if not (students and negations) or (len(comment.content) > 5 and not unseen):
        return []
    return students + negations + unseen


def _unseen_test_words(comment: _Comment) -> list[_Word]:
    """Match a test word with a negation at most two words before VISIBLE, SHOWN or SEE, in at most five words.

    ``# More tests (not visible)`` counts, ``# Check that gradients are not shown as NaN`` does not.
    """
    unseen = _negated_visibility_words(comment.words)
    tests = [word for word in comment.words if _is_test_word(word.text)]
    if unseen and tests and len(comment.content) <= 5:
        return tests + unseen
    return []


def _negated_visibility_words(words: list[_Word]) -> list[_Word]:
    """Return each negation with the visibility words at most two words after it: "not shown", "do not see"."""
    found = []
    for index, word in enumerate(words):
        if word.text not in NEGATION_WORDS:
            continue
        seen = [other for other in words[index + 1 : index + 3] if other.text in VISIBILITY_WORDS]
        found.extend([word] + seen if seen else [])
    return found


def _fence_test_words(comment: _Comment) -> list[_Word]:
    """Match a comment of at most five words that starts with BEGIN or END and names tests: ``# end tests``.

    BEGIN or END that starts a sentence does not count: ``# Begin by checking the shape``,
    ``# End to end test``.
    """
    first = comment.words[0]
    begins_sentence = [word.raw for word in comment.words[1:2]] in (["by"], ["with"], ["to"])
    tests = [word for word in comment.content if _is_test_word(word.text)]
    if _starts_fence(first) and not begins_sentence and len(comment.content) <= 5 and tests:
        return [first] + tests
    return []


def _starts_fence(word: _Word) -> bool:
    """Return True for BEGIN, BEGINNING or END, the first word of a fence (ENDS is not END)."""
    return _like(word.raw, ("begin", "beginning"), 0.85) or _like(word.raw, ("end",), 1.0)


# The looser rules of the cells where the build cuts. Each returns the words that make a comment
# look like a marker, or [] when it does not apply.
_SOLUTION_CELL_RULES = (_styled_fence_words, _solution_name_words, _solution_audience_words, _model_solution_words)
_CHECK_CELL_RULES = (_styled_fence_words, _hiding_words, _student_negation_words, _unseen_test_words, _fence_test_words)


def _is_solution_word(word: str) -> bool:
    """Return True for a word that names a solution: solution or answer with one letter wrong, soln, sol or solved."""
    return _one_edit_apart(word, "solution") or _one_edit_apart(word, "answer") or word in ("soln", "sol", "solved")


def _is_hiding_word(word: str) -> bool:
    """Return True for a word that marks tests as hidden: hidden, secret, private, withheld, instructor, grader and the like."""
    return (
        _like(word, ("hidden", "secret", "private"), 0.9)
        or word.startswith(("hidden", "secret"))  # "hiddentests"
        or word in ("withheld", "concealed", "invisible", "undisclosed")
        or word in AUDIENCE_WORDS
    )


def _is_test_word(word: str) -> bool:
    """Return True for a word that names tests: test, testing, testcase, check, assert, grading (not text)."""
    return word.startswith(("test", "check", "assert")) or word in ("grading", "graded")


def _singular(word: str) -> str:
    """Drop one plural s from a word of more than three letters: 'tests' loses it, 'bias' and 'class' keep it."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "as", "is", "us")) else word


def _like(word: str, choices, ratio: float) -> bool:
    """Return True if ``word`` is one of ``choices``, with two neighbouring letters swapped or at least ``ratio`` similar."""
    return any(
        (sorted(word) == sorted(choice) and _one_edit_apart(word, choice))
        or difflib.SequenceMatcher(None, word, choice).ratio() >= ratio
        for choice in choices
    )


def _one_edit_apart(word: str, target: str) -> bool:
    """Return True if ``word`` is ``target`` with at most one letter replaced, added, dropped or swapped with the next."""
    if abs(len(word) - len(target)) > 1:
        return False
    prefix = len(os.path.commonprefix([word, target]))
    word, target = word[prefix:], target[prefix:]
    suffix = len(os.path.commonprefix([word[::-1], target[::-1]]))
    word, target = word[: len(word) - suffix], target[: len(target) - suffix]
    return (len(word) <= 1 and len(target) <= 1) or (len(word) == 2 and word == target[::-1])


def _fenced_line_numbers(lines: list[str], fence: tuple[str, str], where: str) -> set[int]:
    """Return the numbers of the lines between the markers of ``fence``, which the build removes anyway.

    Unbalanced markers give no lines, so that a near miss in place of one marker is reported
    before the marker left without its partner.
    """
    try:
        blocks = fenced_blocks(lines, *fence, where)
    except CourseFormatError:
        return set()
    return {number for begin, end in blocks for number in range(begin + 1, end)}


def fenced_blocks(lines: list[str], begin: str, end: str, where: str) -> list[tuple[int, int]]:
    """Return ``(begin_index, end_index)`` of every fence in ``lines``; raise on unbalanced fences."""
    blocks = []
    start = None
    for number, line in enumerate(lines):
        marker = _marker_on_line(line)
        if marker == begin:
            if start is not None:
                raise CourseFormatError(
                    f"{where}: line {number + 1} opens {begin!r} while the one on line {start + 1} is still open; "
                    f"add {end!r} before it"
                )
            start = number
        elif marker == end:
            if start is None:
                raise CourseFormatError(f"{where}: line {number + 1} has {end!r} without {begin!r} before it")
            blocks.append((start, number))
            start = None
    if start is not None:
        raise CourseFormatError(f"{where}: {begin!r} on line {start + 1} is never closed; add {end!r}")
    return blocks


def _python_string(text: str) -> str:
    # json.dumps output is a valid Python string literal in double quotes.
    return json.dumps(text, ensure_ascii=False)


def strip_solution(source: str, grade_id: str, where: str) -> str:
    """Replace every solution fence by a ``raise NotImplementedError`` with the hint, at the fence's indentation."""
    lines = source.split("\n")
    blocks = fenced_blocks(lines, BEGIN_SOLUTION, END_SOLUTION, where)
    if not blocks:
        raise CourseFormatError(
            f"{where}: a solution cell must contain {BEGIN_SOLUTION!r} ... {END_SOLUTION!r}; "
            f"fence the solution lines or remove '\"solution\": true' from the cell's nbgrader metadata"
        )
    result = []
    previous_end = -1
    for begin, end in blocks:
        result.extend(lines[previous_end + 1 : begin])
        indentation = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        hint = DEFAULT_HINT
        if begin + 1 < end and lines[begin + 1].strip().startswith(HINT_PREFIX):
            hint = lines[begin + 1].strip()[len(HINT_PREFIX) :].strip() or DEFAULT_HINT
        result.append(f"{indentation}raise NotImplementedError({_python_string(f'{grade_id}: {hint}')})")
        previous_end = end
    result.extend(lines[previous_end + 1 :])
    return "\n".join(result)


def strip_hidden_tests(source: str, where: str) -> str:
    """Remove every hidden-test fence and the lines inside it."""
    return replace_hidden_tests(source, where, note=None)


def replace_hidden_tests(source: str, where: str, note: str | None) -> str:
    """Replace every hidden-test fence, with the lines inside it, by the comment ``note``, or by nothing.

    A fence that is the whole body of a block (a loop's, say) becomes ``pass`` followed by the note,
    so that the code left still runs. Inside a list or a call, the comment or nothing fits. Python's
    compiler decides: a fence gets ``pass`` when the cell, with only that fence replaced, no longer
    compiles. Fences that are a body only together get it through the last step.
    """
    lines = source.split("\n")
    blocks = fenced_blocks(lines, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS, where)
    with_pass = set()  # first lines of the fences that become pass
    if _syntax_error_line(source) is not None:
        return _replace_blocks(lines, blocks, note, with_pass)  # nothing to compare with
    for begin, end in blocks:
        alone = _replace_blocks(lines, [(begin, end)], note, set())
        if _syntax_error_line(alone) is not None:
            with_pass.add(begin)
    text = _replace_blocks(lines, blocks, note, with_pass)
    for begin, _ in blocks:  # two fences back to back that form a block's body, for example
        if _syntax_error_line(text) is None:
            break
        if begin not in with_pass:
            trial = _replace_blocks(lines, blocks, note, with_pass | {begin})
            if _syntax_error_line(trial) is None:
                with_pass.add(begin)
                text = trial
    return text


def _replace_blocks(lines: list[str], blocks, note: str | None, with_pass: set[int]) -> str:
    """Return the cell's text with each fence replaced by ``note`` (or by pass and the note, for those in with_pass)."""
    ends = dict(blocks)
    visible = []
    number = 0
    while number < len(lines):
        if number not in ends:
            visible.append(lines[number])
            number += 1
            continue
        end = ends[number]
        # The replacement takes the indentation of the first hidden line of code, not of a comment.
        inside = [line for line in lines[number + 1 : end] if line.strip() and not line.lstrip().startswith("#")]
        first = inside[0] if inside else lines[number]
        text = note
        if number in with_pass:
            text = f"pass  {note}" if note else "pass"
        if text:
            visible.append(first[: len(first) - len(first.lstrip())] + text)
        number = end + 1
    return "\n".join(visible)


def _syntax_error_line(text: str) -> int | None:
    """Return the 0-based line of the first syntax error in a cell's code, or None if it compiles.

    IPython turns its own syntax (%magic, !command, obj?) into Python first, as a kernel does. Cell
    magics at the top (after blank lines too) are dropped, so that %%time checks the code it times.
    """
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("%%"):
            break
        lines[number] = ""
    error_line = None
    for reading in _python_readings("\n".join(lines)):
        try:
            compile(reading, "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except SyntaxError as error:
            error_line = (error.lineno or 1) - 1
            continue
        except ValueError:  # a null byte: not something pass can mend
            return None
        return None
    return error_line


def _python_readings(text: str) -> list[str]:
    """Return the ways a kernel may read the cell as Python. The cell compiles if one of them does.

    With IPython that is IPython's own transformation. Without it, a line rule replaces it. The
    rule cannot tell a magic from an operator or a '?' that continues the line before, so the cell
    as it is comes first.
    NOTE: without IPython, a cell with both a magic and such a line counts as not compiling.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # the course extras bring IPython; the rougher rule is for setups without it
        return [text, "\n".join(_line_as_python(line) for line in text.split("\n"))]
    try:
        return [TransformerManager().transform_cell(text)]
    except Exception:  # IPython gives up on cells with hundreds of escapes, which no kernel runs either
        return [text]


# A line that assigns the result of a magic or a shell command: ``files = !ls``, ``d["t"] = %time f()``,
# ``x: list = !ls``.
_MAGIC_ASSIGNMENT = re.compile(r"^[\w.\[\],:'\" ]+=\s*[%!]")


def _line_as_python(line: str) -> str:
    """Return ``pass`` for a line of IPython syntax (%magic, !command, obj?), the line itself otherwise."""
    code = line.strip()
    magic = code.startswith(("%", "!", "?")) or _MAGIC_ASSIGNMENT.match(code) is not None
    if magic or (code.endswith("?") and "#" not in code):
        return line[: len(line) - len(code)] + "pass"
    return line


def clears_outputs(cell) -> bool:
    """Return True for the cells whose outputs the build clears: solution, check and uses-exercise cells."""
    return is_solution_cell(cell) or is_check_cell(cell) or uses_exercise(cell)


def _clear_outputs(cell) -> None:
    if cell.get("cell_type") == "code":
        cell["outputs"] = []
        cell["execution_count"] = None


def _add_tag(cell, tag: str) -> None:
    tags = cell_tags(cell)
    if tag not in tags:
        tags.append(tag)
    cell.setdefault("metadata", {})["tags"] = tags


# -- validating and building one notebook --------------------------------------


def validate_solution(notebook, path: Path) -> None:
    """Raise CourseFormatError for anything in a solution notebook that the build or grader cannot handle."""
    kernel_name = notebook.get("metadata", {}).get("kernelspec", {}).get("name")
    if kernel_name != KERNEL_NAME:
        raise CourseFormatError(
            f"{path}: kernelspec name is {kernel_name!r}, expected {KERNEL_NAME!r}; "
            f"choose the 'Python 3 (ipykernel)' kernel and save the notebook again"
        )
    seen = {}
    for index, cell in enumerate(notebook.cells):
        where = f"{path}, {describe_cell(index, cell)}"
        metadata = nbgrader_metadata(cell)
        solution, check = is_solution_cell(cell), is_check_cell(cell)
        source = source_text(cell)
        if solution or check:
            grade_id = metadata.get("grade_id")
            if not isinstance(grade_id, str) or not grade_id.strip():
                raise CourseFormatError(f"{where}: an nbgrader cell needs a non-empty 'grade_id' in metadata.nbgrader")
            if grade_id in seen:
                raise CourseFormatError(
                    f"{where}: grade_id {grade_id!r} is already used by cell {seen[grade_id]}; grade ids must be unique"
                )
            seen[grade_id] = index
            if cell.get("cell_type") != "code":
                raise CourseFormatError(f"{where}: solution and check cells must be code cells, got a {cell.get('cell_type')} cell")
        if solution and check:
            raise CourseFormatError(
                f"{where}: a cell is either a solution cell or a check cell, not both; "
                f"split it into a solution cell and a check cell"
            )
        if check:
            points = metadata.get("points")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
                raise CourseFormatError(f"{where}: a check cell needs positive 'points' in metadata.nbgrader, got {points!r}")
        # Fences are checked for near misses and balance in every cell, and allowed only in the right kind
        # of cell, because a fence elsewhere would be copied into the exercise with its solution inside.
        lines = source.split("\n")
        # Lines inside an exact fence are removed anyway, so only the lines outside are looked at.
        cell_kind = None
        if solution:
            cell_kind = "solution"
        elif check:
            cell_kind = "check"
        fence = (BEGIN_SOLUTION, END_SOLUTION) if solution else (BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS)
        inside = _fenced_line_numbers(lines, fence, where) if cell_kind else set()
        for number, line in enumerate(lines if cell.get("cell_type") == "code" else []):
            near_miss = None if number in inside else _near_miss(line, cell_kind)
            if near_miss is not None:
                words = ", ".join(repr(word) for word in near_miss.words)
                reword = f"reword the comment without {words}" if words else "reword the comment"
                raise CourseFormatError(
                    f"{where}: line {number + 1} reads {line.strip()!r}, which looks like the marker {near_miss.marker!r}; "
                    f"write the marker exactly so, because the build removes only exact markers, or {reword} "
                    f"if it is not meant as a marker (docs/course-format.md lists the rules)"
                )
        solution_fences = fenced_blocks(lines, BEGIN_SOLUTION, END_SOLUTION, where)
        hidden_fences = fenced_blocks(lines, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS, where)
        if solution_fences and not solution:
            raise CourseFormatError(
                f"{where}: {BEGIN_SOLUTION!r} in a cell that is not a solution cell; "
                f"set '\"solution\": true' in its nbgrader metadata"
            )
        if hidden_fences and not check:
            raise CourseFormatError(
                f"{where}: {BEGIN_HIDDEN_TESTS!r} in a cell that is not a check cell; "
                f"set '\"grade\": true' and 'points' in its nbgrader metadata"
            )
        if cell.get("cell_type") != "code" and any(marker in source for marker in MARKERS):
            raise CourseFormatError(f"{where}: markers belong in code cells only, found one in a {cell.get('cell_type')} cell")


def build_exercise(notebook, path: Path):
    """Return the exercise notebook built from a solution notebook (the input is not changed)."""
    validate_solution(notebook, path)
    exercise = copy.deepcopy(notebook)
    for index, cell in enumerate(exercise.cells):
        where = f"{path}, {describe_cell(index, cell)}"
        if is_solution_cell(cell):
            cell["source"] = strip_solution(source_text(cell), nbgrader_metadata(cell)["grade_id"], where)
        elif is_check_cell(cell):
            cell["source"] = strip_hidden_tests(source_text(cell), where)
            cell["metadata"]["nbgrader"]["locked"] = True
        if clears_outputs(cell):
            _clear_outputs(cell)
        if is_check_cell(cell) or uses_exercise(cell):
            _add_tag(cell, RAISES_EXCEPTION_TAG)
    return exercise


def check_cells(notebook) -> list[CheckCell]:
    """Return the check cells of a notebook in order."""
    return [
        CheckCell(nbgrader_metadata(cell)["grade_id"], float(nbgrader_metadata(cell)["points"]), index, cell)
        for index, cell in enumerate(notebook.cells)
        if is_check_cell(cell)
    ]


def load_solutions(root: Path) -> dict[str, object]:
    """Read and validate every solution notebook, keyed by file name."""
    notebooks = {}
    for path in list_notebooks(solutions_folder(root)):
        notebook = read_notebook(path)
        validate_solution(notebook, path)
        notebooks[path.name] = notebook
    return notebooks


# -- the build and check commands ----------------------------------------------


def built_exercises(root: Path) -> dict[str, str]:
    """Build every exercise notebook in memory and return its text, keyed by file name."""
    texts = {}
    for path in list_notebooks(solutions_folder(root)):
        texts[path.name] = notebook_text(build_exercise(read_notebook(path), path))
    return texts


def _first_difference(expected_text: str, actual_text: str) -> str:
    try:
        expected, actual = json.loads(expected_text), json.loads(actual_text)
    except json.JSONDecodeError:
        return "not valid JSON"
    expected_cells, actual_cells = expected.get("cells", []), actual.get("cells", [])
    for index, (wanted, found) in enumerate(zip(expected_cells, actual_cells)):
        if _without_id(wanted) != _without_id(found):
            return f"first difference in {describe_cell(index, wanted)}"
    if len(expected_cells) != len(actual_cells):
        return f"{len(actual_cells)} cells, expected {len(expected_cells)}"
    if expected_cells != actual_cells:
        return "the cell ids differ"
    return "notebook metadata or formatting differs"


def _without_id(cell: dict) -> dict:
    return {key: value for key, value in cell.items() if key != "id"}


def compare_exercises(root: Path, built: dict[str, str] | None = None) -> StaleReport:
    """Compare ``exercises/`` on disk with the notebooks built from ``solutions/``."""
    root = Path(root)
    built = built_exercises(root) if built is None else built
    exercises = root / EXERCISES_DIR
    report = StaleReport()
    for name, text in built.items():
        path = exercises / name
        if not path.exists():
            report.missing.append(name)
        else:
            on_disk = path.read_text(encoding="utf-8")
            if on_disk != text:
                report.outdated[name] = _first_difference(text, on_disk)
    report.extra = [path.name for path in list_notebooks(exercises) if path.name not in built]
    return report


def build(root: Path, log=print) -> list[str]:
    """Write ``exercises/`` from ``solutions/`` and return the names of the notebooks that changed.

    Every solution notebook is built before anything is written, so a format error leaves
    ``exercises/`` as it was. Exercise notebooks without a solution of the same name are deleted,
    because ``exercises/`` contains generated files only.
    """
    root = Path(root)
    built = built_exercises(root)
    report = compare_exercises(root, built)
    exercises = root / EXERCISES_DIR
    exercises.mkdir(exist_ok=True)
    changed = sorted(report.missing + list(report.outdated))
    for name in changed:
        write_text_atomically(exercises / name, built[name])
        log(f"wrote {EXERCISES_DIR}/{name}")
    for name in report.extra:
        (exercises / name).unlink()
        log(f"deleted {EXERCISES_DIR}/{name}: no notebook of that name in {SOLUTIONS_DIR}/")
    if not changed and not report.extra:
        log(f"{EXERCISES_DIR}/ is up to date ({len(built)} notebooks)")
    return changed


def check(root: Path) -> StaleReport:
    """Return how ``exercises/`` differs from a fresh build; ``report.up_to_date`` is True when it does not."""
    return compare_exercises(Path(root))
