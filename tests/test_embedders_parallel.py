"""dlib and SFace embeddings split over worker processes equal the serial ones, row for row."""

import numpy as np
import pytest

from lib.faces.embed import create_embedder
from lib.recognition import embedders


@pytest.mark.parametrize("name, kwargs", [("dlib", {"backend": "dlib"}), ("sface", {})])
def test_parallel_equals_serial(monkeypatch, name, kwargs):
    from lib.data.real_photos import lfw_crops

    crops = lfw_crops(6)  # six real faces (resized to 112 by embed): rows differ, so order matters
    monkeypatch.setattr(embedders, "PARALLEL_MIN_IMAGES", 4)
    model = create_embedder(name, **kwargs)
    assert model.single_threaded  # else embed() would not use the workers
    serial = embedders.embed(model, crops, workers=1)
    parallel = embedders.embed(model, crops, workers=2)
    assert parallel.shape == serial.shape == (6, 128)
    np.testing.assert_allclose(parallel, serial, atol=1e-6)
    assert not np.allclose(serial[0], serial[1])
