"""A wrong answer gets a specific message; a right one passes."""

import numpy as np
import pytest

from labs_lib import checks


def _message(actual, expected, **kwargs) -> str:
    with pytest.raises(checks.CheckError) as info:
        checks.check_array(actual, expected, name="y_hat", **kwargs)
    return str(info.value)


def test_right_answer_passes_with_a_tick(capsys):
    checks.check_array(np.array([1.0, 2.0]), [1.0, 2.0 + 1e-9], name="y_hat")
    assert capsys.readouterr().out.strip() == "✔ y_hat: correct"


def test_missing_return_is_named():
    assert "forget to `return`" in _message(None, [1.0])


def test_wrong_shape_names_both_shapes_and_spots_a_transpose():
    message = _message(np.ones((3, 2)), np.ones((2, 3)))
    assert "shape (3, 2)" in message and "(2, 3)" in message and "transposed" in message


def test_extra_axis_of_size_one_is_spotted():
    assert "axis of size 1" in _message(np.ones((4, 1)), np.ones(4))


def test_first_wrong_value_and_its_index_are_given():
    message = _message(np.array([[1.0, 2.0], [3.0, 9.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert "at index [1, 1]" in message and "got 9" in message and "expected 4" in message and "1 of 4" in message


def test_forgotten_bias_is_suggested():
    X, W, b = np.ones((5, 3)), np.full((3, 2), 0.5), np.array([0.1, -0.3])
    message = _message(X @ W, X @ W + b)
    assert "bias" in message


def test_constant_offset_is_suggested():
    assert "off by the same amount (-1)" in _message(np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]))


def test_flipped_sign_is_suggested():
    assert "wrong sign" in _message(np.array([-0.5, 2.0]), np.array([0.5, -2.0]))


def test_wrong_scale_is_suggested():
    assert "2 times the expected" in _message(np.array([2.0, 4.0, 6.0]), np.array([1.0, 2.0, 3.0]))


def test_nan_is_located():
    message = _message(np.array([0.5, np.nan, 1.0]), np.array([0.5, 0.2, 1.0]))
    assert "NaN" in message and "index [1]" in message


def test_tensorflow_tensors_are_accepted():
    import tensorflow as tf

    checks.check_array(tf.constant([1.0, 2.0]), [1.0, 2.0], quiet=True)


def test_check_function_reports_not_implemented_and_errors_with_the_input():
    def stub(x):
        raise NotImplementedError

    with pytest.raises(checks.CheckError, match="not written yet"):
        checks.check_function(stub, [((np.array([1.0]),), np.array([1.0]))])

    def broken(x):
        return x / undefined_name  # noqa: F821

    with pytest.raises(checks.CheckError, match=r"broken\(\[1.\]\) raised NameError"):
        checks.check_function(broken, [((np.array([1.0]),), np.array([1.0]))])


def test_check_function_passes_on_all_cases(capsys):
    checks.check_function(np.square, [((np.array([2.0]),), np.array([4.0])), ((3.0,), 9.0)], name="square")
    assert "correct on 2 case(s)" in capsys.readouterr().out


def test_check_scalar_wants_one_number():
    with pytest.raises(checks.CheckError, match="single number"):
        checks.check_scalar(np.array([1.0, 2.0]), 1.5, name="loss")
    checks.check_scalar(np.float32(1.5), 1.5, name="loss")


def test_non_numeric_answer_is_explained():
    with pytest.raises(checks.CheckError, match="should be numbers"):
        checks.check_array("abc", [1.0])


def test_check_true_raises_with_message():
    with pytest.raises(checks.CheckError, match="loss did not go down"):
        checks.check_true(False, "loss did not go down")
    checks.check_true(True, "unused")


def test_check_function_accepts_ragged_arguments():
    weights = [np.ones((2, 3)), np.ones(4)]  # a list of arrays of different shapes, e.g. a model's weights
    checks.check_function(lambda ws: sum(float(np.sum(w**2)) for w in ws), [((weights,), 10.0)], name="l2")
    with pytest.raises(checks.CheckError, match=r"l2\(\[array"):
        checks.check_function(lambda ws: 0.0, [((weights,), 10.0)], name="l2")
