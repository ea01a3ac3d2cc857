import numpy as np
import pytest

from .harness import forward, make_layer, torch


def reference(scores, labels, k, ignore=None):
    top = torch.topk(torch.tensor(scores), k, dim=1).indices.numpy()
    keep = labels != ignore if ignore is not None else np.ones(len(labels), bool)
    hits = np.array([labels[i] in top[i] for i in range(len(labels))])
    return hits[keep].mean()


@pytest.mark.parametrize("k", [1, 3])
def test_accuracy_matches_topk(k):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 10))
    labels = rng.integers(0, 10, 50).astype(np.float64)
    layer, bottom, top = make_layer("Accuracy", {"top_k": k}, [scores, labels])
    (acc,) = forward(layer, bottom, top)
    assert acc == pytest.approx(reference(scores, labels, k))


def test_accuracy_ignore_label_and_spatial_axis():
    scores = np.zeros((1, 3, 2))
    scores[0, 2, 0] = 1.0   # position 0 predicts class 2
    scores[0, 0, 1] = 1.0   # position 1 predicts class 0
    labels = np.array([[2.0, 1.0]])
    layer, bottom, top = make_layer("Accuracy", {}, [scores, labels])
    assert forward(layer, bottom, top)[0] == pytest.approx(0.5)
    layer, bottom, top = make_layer("Accuracy", {"ignore_label": 1}, [scores, labels])
    assert forward(layer, bottom, top)[0] == pytest.approx(1.0)


def test_accuracy_top_k_larger_than_classes_is_an_error():
    from layerflow.layer import ShapeError
    with pytest.raises(ShapeError, match="top_k 5 exceeds the 3 classes"):
        make_layer("Accuracy", {"top_k": 5}, [np.zeros((2, 3)), np.zeros(2)])
