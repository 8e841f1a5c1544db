import string

import pytest

from analyzer.errors import CODES, AlgorithmError, InputError
from container import exit_message


def test_codes_are_sorted_and_unique():
    keys = list(CODES)
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_template_renders_with_its_parameters(code):
    fields = {name for _, name, _, _ in string.Formatter().parse(CODES[code]) if name}
    message = str(InputError(code, **{f: "X" for f in fields}))
    assert message.startswith(f"[{code}] ")
    assert "{" not in message and "\n" not in message


def test_unknown_code_is_a_programming_error():
    with pytest.raises(KeyError):
        AlgorithmError("NOT_A_CODE")


def test_success_strings_are_sagemakers():
    assert exit_message.completed(0) == "Completed: Job completed successfully with no violations."
    assert exit_message.completed(1) == "CompletedWithViolations: Job completed successfully with 1 violations."
    assert exit_message.completed(60) == "CompletedWithViolations: Job completed successfully with 60 violations."


def test_clip_keeps_one_line_of_at_most_1kb_utf8():
    text = "Failed: " + "é" * 2000 + "\nsecond line"
    clipped = exit_message.clip(text)
    data = clipped.encode("utf-8")
    assert len(data) <= 1024
    assert "\n" not in clipped
    data.decode("utf-8")  # never a broken character
    assert clipped.endswith("...")


def test_write_replaces_atomically(tmp_path):
    path = tmp_path / "output" / "message"
    exit_message.write(path, "Failed: x")
    assert path.read_text(encoding="utf-8") == "Failed: x"
    assert [p.name for p in path.parent.iterdir()] == ["message"]
