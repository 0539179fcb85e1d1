from analysis.errors import DataError, Failure


def test_failure_line_names_file_row_column_value_and_expectation():
    f = Failure("cases.csv", 3, "country", "XX", "an ISO 3166 alpha-3 country code")
    assert str(f) == "cases.csv:3:country: 'XX' — expected an ISO 3166 alpha-3 country code"


def test_failure_without_row_or_column_keeps_the_colons():
    assert str(Failure("f.csv", None, None, "", "x")) == "f.csv: '' — expected x"


def test_long_values_are_shortened():
    line = str(Failure("f.csv", 2, "title", "x" * 5000, "a title"))
    assert len(line) < 200 and "…" in line


def test_data_error_lists_every_failure_in_file_and_row_order():
    err = DataError(
        [
            Failure("b.csv", 2, "a", "1", "x"),
            Failure("a.csv", 9, "a", "1", "x"),
            Failure("a.csv", 3, "a", "1", "x"),
        ]
    )
    assert [(f.file, f.row) for f in err.failures] == [("a.csv", 3), ("a.csv", 9), ("b.csv", 2)]
    assert str(err).count("\n") == 2
