"""The example of the format contract loads, validates and summarises as documented."""

from designer import analyze, loads


def test_example_summary_numbers(example_text):
    analysis = analyze(loads(example_text))
    assert analysis.ok, analysis.diagnostics
    assert analysis.shape("pool1") == (32, 13, 13)
    assert analysis.shape("fc") == (10,)
    assert analysis.total_params == 3 * 3 * 1 * 32 + 32 + 5408 * 10 + 10
    assert analysis.total_mult_adds == 320 * 26 * 26 + 54_090
