import pytest

def test_lt():
    assert 1 < 0, "one is not < zero & \"quoted\" 'single'"

def test_multi():
    assert "a\nb" == "a\nc"

@pytest.mark.parametrize("x", ["<a>", "b&c", 'q"q', "new\nline", "é"])
def test_param(x):
    assert x == "é"

class TestK:
    def test_ok(self):
        pass

@pytest.mark.skip(reason="skip <me> & you")
def test_skip():
    pass

@pytest.mark.xfail(reason="x<f>")
def test_xf():
    assert 0
