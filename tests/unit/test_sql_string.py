from container.capture import sql_string


def test_sql_string_escapes_backslashes_and_quotes():
    assert sql_string("it's") == "it\\'s"
    assert sql_string("a\\b") == "a\\\\b"  # the preprocessor path used to leave backslashes unescaped
