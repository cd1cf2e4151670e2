"""A network trained on ImageNet (``defstab_lib.runs.imagenet``): the layer tables of every model (random weights,
no download), the published EfficientNet-Lite0 weights, seeded initialisations, the store, and the chapter's
one-line stop when a model's weights need a network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import papermill
import pytest
import torch

from defstab_lib import chapters, probe
from defstab_lib.runs import imagenet
from defstab_lib.runs.store import CorruptResultError, ResultsStore

ROOT = Path(__file__).resolve().parents[2]


def _order(net: torch.nn.Module, keys: list) -> list[str]:
    """The table's modules in the order a forward pass runs them (each module's first call)."""
    seen: list[str] = []
    modules = dict(net.named_modules())
    handles = [modules[k].register_forward_hook(lambda m, a, o, k=k: seen.append(k) if k not in seen else None)
               for k in keys if k != 0]
    with probe.eval_mode(net):
        net(torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)))
    for h in handles:
        h.remove()
    return seen


@pytest.mark.parametrize("model", sorted(imagenet.MODELS))
def test_every_models_table_names_modules_that_run_in_the_tables_order(model):
    net = imagenet.build(model, trained=False, generator=torch.Generator().manual_seed(0))
    keys = imagenet.layer_keys(model)
    assert probe.resolve_layers(net, keys) == keys
    assert _order(net, keys) == keys[1:], f"{model}: the table is not in the order the layers run"


def test_random_weights_come_from_the_generator_and_leave_the_global_state_alone():
    state = torch.random.get_rng_state()
    a = imagenet.build("resnet18", trained=False, generator=torch.Generator().manual_seed(3)).state_dict()
    b = imagenet.build("resnet18", trained=False, generator=torch.Generator().manual_seed(3)).state_dict()
    c = imagenet.build("resnet18", trained=False, generator=torch.Generator().manual_seed(4)).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["net.conv1.weight"], c["net.conv1.weight"])
    with pytest.raises(TypeError, match="generator"):
        imagenet.build("resnet18", trained=False)


def test_the_published_efficientnet_weights_classify_the_labelled_images():
    images, labels, names = imagenet.probe_images()
    assert len(names) == imagenet.N_IMAGES and images.shape == (24, 3, 224, 224)
    assert int((labels >= 0).sum()) == 20 and sum(n.startswith("photo") for n in names) == 4
    acc = imagenet.accuracy(imagenet.build("efficientnet-lite0", trained=True), images, labels)
    assert acc["n"] == 20 and acc["top1"] >= 0.5 and acc["top5"] >= acc["top1"]
    random = imagenet.build("efficientnet-lite0", trained=False, generator=torch.Generator().manual_seed(0))
    assert imagenet.accuracy(random, images, labels)["top1"] <= 0.15


def test_a_torchvision_models_weights_need_a_network_said_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: the weights are not on this machine
    imagenet.check_weights("resnet18", "random")  # random weights need nothing
    imagenet.check_weights("resnet18", "trained", stored=True)  # nor does a stored measurement
    host = "download.pytorch.org"
    if imagenet._reachable(host):  # a machine with a network downloads them: nothing to refuse
        imagenet.check_weights("resnet18", "trained")
        return
    with pytest.raises(imagenet.WeightsUnavailable) as info:
        imagenet.check_weights("resnet18", "trained")
    message = str(info.value)
    assert "\n" not in message and "resnet18" in message and host in message and "-p weights random" in message


def test_bad_arguments_are_refused_by_name_before_any_work(tmp_path):
    store = ResultsStore(tmp_path)
    for kwargs, name in (({"model": "alexnet"}, "model"), ({"weights": "imagenet"}, "weights"), ({"inits": 1}, "inits"),
                         ({"worst_steps": -1}, "worst_steps"), ({"n_images": 2}, "n_images"),
                         ({"n_images": 25}, "n_images"), ({"seed": -1}, "seed")):
        with pytest.raises((ValueError, TypeError), match=name):
            imagenet.imagenet_network(**kwargs, store=store)
    assert not list(tmp_path.rglob("*.json"))


def test_a_small_measurement_is_stored_keyed_by_its_parameters_and_read_back(tmp_path):
    store = ResultsStore(tmp_path)
    kwargs = {"model": "resnet18", "weights": "random", "inits": 2, "worst_steps": 1, "n_images": 3, "store": store,
              "device": "cpu"}
    assert not imagenet.is_stored(**{k: v for k, v in kwargs.items() if k != "device"})
    m = imagenet.imagenet_network(**kwargs)
    n_layers = len(imagenet.MODELS["resnet18"].layers) + 1
    assert m.layers[0] == "input" and len(m.layers) == n_layers and len(m.images) == 3 and m.n_inits == 2
    assert m.trained.deformed.shape == (n_layers, 3) and m.trained.worst.shape == (n_layers, 3)
    for c in imagenet.CONDITIONS:
        assert m.inits[c].deformed.shape == (2, n_layers, 3) and m.inits[c].median.shape == (2, n_layers)
    assert m.inits["as-built"].worst is None and m.inits["recalibrated"].worst.shape == (2, n_layers, 3)
    # the input is the same probe for every network: its D is the same
    assert np.allclose(m.inits["recalibrated"].D[:, 0], m.trained.D[0], rtol=1e-3)
    # recalibrating BatchNorm changes the later representations, not the input
    assert not np.allclose(m.inits["recalibrated"].D[:, -1], m.inits["as-built"].D[:, -1])
    assert m.batchnorm and m.source.file.startswith("results/imagenet-network/")
    path, stamp = m.source.path, m.source.path.stat().st_mtime_ns
    again = imagenet.imagenet_network(**kwargs)
    assert path.stat().st_mtime_ns == stamp and np.array_equal(again.trained.deformed, m.trained.deformed)
    assert imagenet.imagenet_network(**{**kwargs, "device": "auto"}).source.key == m.source.key  # device not keyed
    with pytest.raises(LookupError, match="not in the results store"):
        imagenet.imagenet_network(**{**kwargs, "seed": 1}, stored_only=True)
    record = json.loads(path.read_text())
    record["payload"]["trained"]["deformed"][1][0] = 3.0
    path.write_text(json.dumps(record))
    with pytest.raises(CorruptResultError, match="outside"):
        imagenet.imagenet_network(**kwargs)


def test_the_probe_spreads_a_short_probe_over_both_sources_and_is_reproducible():
    a, b = imagenet.probe(0, 6), imagenet.probe(0, 6)
    assert torch.equal(a["deformed"], b["deformed"]) and torch.equal(a["noisy"], b["noisy"])
    assert a["names"][0].startswith("ImageNet") and a["names"][-1].startswith("photo")
    assert [label for label, _, _ in imagenet.example_rows(a)] == ["ImageNet validation images (foolbox)",
                                                                    "photographs (scikit-image)"]
    noise = (a["noisy"] - a["images"]).flatten(1).norm(dim=1)
    assert torch.allclose(noise, (a["deformed"] - a["images"]).flatten(1).norm(dim=1), rtol=1e-4)


def test_the_committed_default_measurement_is_in_the_store():
    assert imagenet.is_stored(), "the chapter renders from results/imagenet-network/ at its defaults"


@pytest.mark.chapter
@pytest.mark.timeout(300)
def test_the_chapter_offline_with_a_torchvision_model_stops_at_validation_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    if imagenet._reachable("download.pytorch.org"):  # with a network the page would download and measure
        return
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(ROOT / "book" / "imagenet_network.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={**chapters.get("imagenet_network").smoke, "model": "resnet18"}, cwd=str(ROOT / "book"),
            kernel_name="python3", progress_bar=False)
    assert info.value.ename == "WeightsUnavailable" and "\n" not in info.value.evalue
    assert "-p weights random" in info.value.evalue
    assert not (tmp_path / "results").exists(), "nothing was computed or stored"
