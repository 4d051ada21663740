"""The network, its loss and its training loop (TensorFlow, tiny sizes)."""

import dataclasses
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from helpers import codec  # noqa: E402

from backsurface.codec import encode as labels  # noqa: E402
from backsurface.net import inference, model, model_file, train  # noqa: E402
from backsurface.net.loss import masked_l2, stage_losses, total_loss  # noqa: E402
from backsurface.net.tfdata import TrainingData, epoch_order, load_split  # noqa: E402

SIZE = 32  # output 4x4: the smallest input every backbone accepts


@pytest.mark.parametrize("backbone", sorted(model.BACKBONES))
@pytest.mark.parametrize("stages", [1, 3])
def test_output_shapes_every_backbone_and_stage_count(backbone, stages):
    m = model.build_model(backbone, SIZE, stages=stages, width=8, feature_channels=8)
    assert len(m.outputs) == 2 * stages
    assert model.n_stages(m) == stages
    for t in range(stages):
        assert tuple(m.outputs[2 * t].shape) == (None, SIZE // 8, SIZE // 8, labels.N_HEATMAP_CHANNELS)
        assert tuple(m.outputs[2 * t + 1].shape) == (None, SIZE // 8, SIZE // 8, labels.N_PAF_CHANNELS)
    cut = m.get_layer(f"{backbone}_stride8").layers[-1].name
    assert cut == model.BACKBONES[backbone].cut_layer


@pytest.mark.parametrize("backbone", ["vgg19", "resnet50"])
def test_stride_4_doubles_every_output_grid_with_one_learned_upsampling(backbone):
    m = model.build_model(backbone, SIZE, stages=2, width=8, feature_channels=8, stride=4)
    assert [tuple(o.shape)[1:3] for o in m.outputs] == [(SIZE // 4, SIZE // 4)] * 4
    up = m.get_layer("features_up")
    assert isinstance(up, keras.layers.Conv2DTranspose) and up.strides == (2, 2)
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose)
                   for layer in model.build_model(backbone, SIZE, stages=2, width=8, feature_channels=8).layers)
    model.check_architecture(m)


def test_caffe_preprocessing_matches_keras_applications():
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)
    ours = model.DepthToBackbone()(x)
    ref = keras.applications.vgg19.preprocess_input(np.repeat(x, 3, axis=-1) * 255.0)
    np.testing.assert_allclose(np.asarray(ours), ref, atol=1e-4)


def test_bad_configuration_errors_name_the_problem(tmp_path):
    with pytest.raises(model.ModelError, match="unknown backbone 'vgg16'"):
        model.build_model("vgg16", SIZE)
    with pytest.raises(model.ModelError, match="multiple of 8"):
        model.build_model("resnet50", 36)
    with pytest.raises(model.ModelError, match=r"stride must be one of \(8, 4\), got 2"):
        model.build_model("resnet50", SIZE, stride=2)
    with pytest.raises(model.ModelError, match="never downloads"):
        model.resolve_weights("resnet50", "imagenet", tmp_path)
    with pytest.raises(model.ModelError, match="weights must be"):
        model.resolve_weights("resnet50", "random", tmp_path)
    assert model.resolve_weights("vgg19", "none") is None


def test_imagenet_weights_load_from_a_file_on_disk(tmp_path):
    """The loading path, with a notop weights file this test writes under the Keras file name."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(5)
    full = keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    path = tmp_path / model.BACKBONES["vgg19"].weights_file
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, full)
    assert model.resolve_weights("vgg19", "imagenet", tmp_path) == path
    keras.utils.set_random_seed(99)  # a different random init, to be overwritten by the file
    cut = model.build_backbone("vgg19", SIZE, path)
    np.testing.assert_array_equal(cut.get_layer("block4_conv2").get_weights()[0],
                                  full.get_layer("block4_conv2").get_weights()[0])


def _labels(n=2, size=SIZE, seed=0, stride=8):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(4, size - 4, (n, 10, 2))
    out = [labels.render_labels(p, size, stride) for p in pts]
    return {
        "images": rng.random((n, size, size)).astype(np.float32),
        "heatmaps": np.stack([o[0] for o in out]),
        "pafs": np.stack([o[1] for o in out]),
        "masks": np.stack([o[2] for o in out]),
    }


def test_loss_is_zero_on_perfect_predictions_and_ignores_masked_channels():
    d = _labels()
    perfect = [tf.constant(d["heatmaps"]), tf.constant(d["pafs"])] * 3
    assert float(total_loss(perfect, d["heatmaps"], d["pafs"], d["masks"])) == 0.0
    # a wrong value in a masked channel costs nothing; in an unmasked one it costs exactly its square
    h = d["heatmaps"].copy()
    h[0, 1, 2, 3] += 2.0
    masks = d["masks"].copy()
    masks[0, 3] = 0.0
    assert float(masked_l2(d["heatmaps"], tf.constant(h), masks[:, :11])[0]) == 0.0
    assert float(masked_l2(d["heatmaps"], tf.constant(h), d["masks"][:, :11])[0]) == pytest.approx(4.0)


def test_every_stage_and_branch_contributes():
    d = _labels()
    outs = [tf.constant(d["heatmaps"]), tf.constant(d["pafs"])] * 3
    base = float(total_loss(outs, d["heatmaps"], d["pafs"], d["masks"]))
    for i in range(6):
        bumped = list(outs)
        bumped[i] = bumped[i] + 0.5
        per = stage_losses(bumped, d["heatmaps"], d["pafs"], d["masks"]).numpy()
        assert per.shape == (2, 3, 2)
        assert per.reshape(2, -1)[:, i].min() > 0 and np.delete(per.reshape(2, -1), i, axis=1).max() == 0
        assert float(total_loss(bumped, d["heatmaps"], d["pafs"], d["masks"])) > base


def test_epoch_order_depends_only_on_seed_and_epoch():
    assert np.array_equal(epoch_order(10, 1, 3), epoch_order(10, 1, 3))
    assert not np.array_equal(epoch_order(10, 1, 3), epoch_order(10, 1, 4))
    assert sorted(epoch_order(10, 1, 3)) == list(range(10))
    td = TrainingData(_labels(n=5))
    batches = list(td.epoch(2, seed=1, epoch=0))
    assert [len(b[0]) for b in batches] == [2, 2, 1] and td.steps_per_epoch(2) == 3
    assert batches[0][0].shape == (2, SIZE, SIZE, 1)


def test_load_split_rejects_wrong_shapes(tmp_path):
    from backsurface.core import arrayfile

    d = _labels()
    d |= {"ids": np.array(["a", "b"]), "subject_ids": np.array(["a", "b"]), "points": np.zeros((2, 10, 2)),
          "transforms": np.ones((2, 6))}
    d["masks"] = d["masks"][:, :5]
    arrayfile.save(tmp_path / "x.npz", **d)
    with pytest.raises(arrayfile.ArrayFileError, match=r"x.npz: array 'masks' has shape \(2, 5\)"):
        load_split(tmp_path / "x.npz")


def _config(**kw):
    base = dict(backbone="resnet50", input_size=SIZE, stages=2, width=8, refine_kernel=7, feature_channels=8,
                weights="none", weights_dir=None, epochs=2, batch_size=2, learning_rate=1e-3, lr_schedule="constant",
                warmup_epochs=0, seed=3, strategy="default", precision="float32", stride=8)
    return train.TrainConfig(**(base | kw))


def test_one_training_step_reduces_the_loss_on_a_tiny_batch():
    d = _labels(n=2)
    # VGG has no BatchNorm: the same function before and after the step
    cfg = _config(backbone="vgg19", stages=2, learning_rate=1e-4)
    strategy = train.make_strategy("default")
    m, opt, label = train.build(cfg, strategy)
    batch = next(iter(TrainingData(d).epoch(2, seed=0, epoch=0)))

    def loss():
        return float(total_loss(m(batch[0], training=False), *batch[1:]))

    before = loss()
    train.train_step_fn(m, opt, strategy, 2)(batch)
    assert loss() < before
    assert label == "none (random init)"


def test_a_stride_4_run_trains_on_stride_4_labels_and_saves_a_stride_4_float32_model(tmp_path):
    cfg = _config(epochs=3, stride=4, precision="mixed_bfloat16")
    result = train.train(cfg, _labels(n=2, stride=4), tmp_path, log=None)
    losses = [r[train.TOTAL] for r in result.history]
    assert losses[-1] < losses[0]
    assert [tuple(o.shape)[1:3] for o in result.model.outputs] == [(SIZE // 4, SIZE // 4)] * 4
    assert result.model.get_layer("features_up").compute_dtype == "float32"
    with pytest.raises(ValueError, match="same input size/stride"):  # stride-8 labels for a stride-4 model
        train.train(cfg, _labels(n=2), tmp_path / "other", log=None)


def test_the_stride_key_leaves_stride_8_checkpoint_fingerprints_as_they_were():
    import dataclasses
    import hashlib
    import json

    cfg = _config()
    before = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "stride"}  # a config of before the key
    blob = json.dumps({**before, "data": "d", "format": train.CHECKPOINT_FORMAT}, sort_keys=True)
    assert cfg.fingerprint("d") == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert _config(stride=4).fingerprint("d") != cfg.fingerprint("d")
    assert cfg.same_run({k: v for k, v in dataclasses.asdict(cfg).items() if k != "stride"})
    assert not _config(stride=4).same_run(before)


def test_training_epochs_lower_the_loss_and_log_every_term(tmp_path):
    result = train.train(_config(epochs=6), _labels(n=2), tmp_path, log=None)
    losses = [r[train.TOTAL] for r in result.history]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert set(train.loss_names(2)) <= set(result.history[0])
    assert result.history[0][train.TOTAL] == pytest.approx(sum(result.history[0][k] for k in train.loss_names(2)[1:]))


def test_resume_equals_uninterrupted_run(tmp_path):
    d = _labels(n=4)
    cfg = _config(epochs=3)
    full = train.train(cfg, d, tmp_path / "a", log=None)
    train.train(cfg, d, tmp_path / "b", stop_after=1, log=None)  # "interrupted" after epoch 1
    seen = []
    resumed = train.train(cfg, d, tmp_path / "b", on_epoch_end=seen.append, log=None)
    assert resumed.resumed_from_epoch == 1 and [r["epoch"] for r in seen] == [1, 2, 3]
    for a, b in zip(full.model.weights, resumed.model.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6, err_msg=a.path)
    assert [r[train.TOTAL] for r in full.history] == pytest.approx([r[train.TOTAL] for r in resumed.history], rel=1e-5)


def test_a_checkpoint_of_another_configuration_is_not_resumed(tmp_path):
    d = _labels(n=2)
    train.train(_config(epochs=1), d, tmp_path, log=None)
    messages = []
    result = train.train(_config(epochs=1, learning_rate=5e-4), d, tmp_path, log=messages.append)
    assert result.resumed_from_epoch == 0 and any("starting afresh" in m for m in messages)
    # one progress line per epoch: loss, throughput and the time left
    assert re.fullmatch(r"resnet50 epoch 1/1  loss \d+\.\d{3}  \d+ s  \d+\.\d\d img/s  about 0 s left", messages[-2])
    # and one line on the health of the branches (net/health.py)
    assert re.fullmatch(r"branch health: the worst, stage \d (heatmap|affinity), ends at \d+\.\d{3}× the loss of an "
                        r"image-independent prediction", messages[-1])


def test_save_load_gives_identical_predictions_and_the_codec(tmp_path):
    m = model.build_model("resnet50", SIZE, stages=2, width=8, feature_channels=8)
    x = np.random.default_rng(1).random((2, SIZE, SIZE)).astype(np.float32)
    path = tmp_path / "m.keras"
    saved_codec = codec(SIZE, sigma_px=6.0, crop="torso")
    model_file.save(m, saved_codec, path, card={"weights": "none (random init)"})
    again, got_codec = model_file.load(path)
    assert got_codec == saved_codec and model_file.read_card(path)["weights"] == "none (random init)"
    for a, b in zip(inference.stage_outputs(m, x), inference.stage_outputs(again, x)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(model.ModelError, match="no such model file"):
        model_file.load(tmp_path / "missing.keras")
    (tmp_path / "bad.keras").write_text("not a model")
    with pytest.raises(model.ModelError, match="bad.keras: not a loadable Keras model"):
        model_file.load(tmp_path / "bad.keras")


def test_a_model_saved_without_its_codec_gets_one_clear_error(tmp_path):
    m = model.build_model("resnet50", SIZE, stages=1, width=4, feature_channels=4)
    m.save(tmp_path / "old.keras")  # how models were saved before they carried their codec
    with pytest.raises(model.ModelError, match=r"old.keras: no label codec beside it \(old.codec.json is missing\)"):
        model_file.load(tmp_path / "old.keras")
    with pytest.raises(model.ModelError, match="do not belong together"):
        model_file.save(m, codec(64), tmp_path / "mismatch.keras")
    assert not (tmp_path / "mismatch.keras").exists()


def test_mirrored_strategy_trains_through_the_same_loop(tmp_path):
    result = train.train(_config(epochs=1, strategy="mirrored"), _labels(n=2), tmp_path, log=None)
    assert np.isfinite(result.history[0][train.TOTAL])
    with pytest.raises(ValueError, match="train.strategy"):
        train.make_strategy("tpu")


def test_a_card_that_predates_the_schedule_keys_describes_the_constant_rate_run():
    cfg = _config()
    old_card = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in train.PREDATED}
    assert cfg.same_run(old_card) and cfg.same_run(dataclasses.asdict(cfg))
    assert not _config(lr_schedule="cosine", warmup_epochs=1).same_run(old_card)
    assert not _config(learning_rate=5e-4).same_run(old_card)


def test_mixed_precision_computes_in_bfloat16_but_keeps_float32_variables_and_outputs():
    m = model.build_model("resnet50", SIZE, stages=2, width=8, feature_channels=8, precision="mixed_bfloat16")
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    policies = {layer.name: layer.dtype_policy.name for layer in m.layers}
    backbone = m.get_layer("resnet50_stride8")
    assert {layer.dtype_policy.name for layer in backbone.layers if layer.weights} == {"mixed_bfloat16"}
    assert policies["features_conv1"] == "mixed_bfloat16" and policies["s2_b1_conv1"] == "mixed_bfloat16"
    assert policies["to_backbone"] == policies["s1_b1_out"] == policies["stage2_heatmaps"] == "float32"
    assert {v.dtype for v in m.weights} == {"float32"}
    x = np.random.default_rng(0).random((1, SIZE, SIZE, 1)).astype(np.float32)
    assert {o.dtype for o in m(x)} == {tf.float32}
    with pytest.raises(model.ModelError, match="precision must be one of"):
        model.build_model("resnet50", SIZE, stages=1, width=4, feature_channels=4, precision="float16")


def test_a_mixed_precision_run_trains_and_returns_the_float32_model_with_its_weights(tmp_path):
    cfg = _config(epochs=6, precision="mixed_bfloat16")
    result = train.train(cfg, _labels(n=2), tmp_path, log=None)
    losses = [r[train.TOTAL] for r in result.history]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert {layer.dtype_policy.name for layer in result.model.layers} == {"float32"}
    # the float32 copy carries the trained variables exactly: the checkpoint's model variables
    meta, saved = train.load_checkpoint(tmp_path / train.CHECKPOINT)
    assert meta["epoch"] == 6
    for i, w in enumerate(result.model.weights):
        np.testing.assert_array_equal(np.asarray(w), saved[f"model_{i:04d}"], err_msg=w.path)
    # and computes what the bfloat16 network computed, to bfloat16's precision
    x = _labels(n=1)["images"][..., None]
    mixed, _, _ = train.build(cfg, train.make_strategy("default"))
    mixed.set_weights(result.model.get_weights())
    a, b = np.asarray(result.model(x)[-2]), np.asarray(mixed(x)[-2])
    # judged over the whole map, not its worst value: the CPU's bfloat16 kernels (AMX, AVX512-BF16 or emulated)
    # round differently (AMX: RMS 0.4 % of the outputs' spread)
    rms = float(np.sqrt(np.mean((a - b) ** 2)))
    assert rms <= 0.1 * float(a.std())
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] >= 0.99
    assert train.as_float32(result.model, _config()) is result.model
    # a card written before the key existed describes a float32 run
    assert "precision" in train.PREDATED and train.PREDATED["precision"] == "float32"


def test_bfloat16_emulation_is_read_from_the_cpu_flags():
    assert train.bfloat16_is_emulated("processor : 0\nflags : fpu sse2 avx2 fma\n")
    assert not train.bfloat16_is_emulated("flags : fpu avx2 avx512f avx512_bf16\n")
    assert not train.bfloat16_is_emulated("flags\t\t: fpu amx_bf16 amx_tile\n")
    assert not train.bfloat16_is_emulated("model name : unknown\n")  # no flags line: no claim


def test_the_cosine_schedule_warms_up_then_decays_to_zero():
    lr = train.learning_rate(_config(epochs=4, lr_schedule="cosine", warmup_epochs=1, learning_rate=1e-3), 10)
    values = [float(lr(step)) for step in (0, 5, 10, 25, 40)]
    assert values[0] == 0.0 and values[1] == pytest.approx(5e-4) and values[2] == pytest.approx(1e-3)
    assert values[3] == pytest.approx(5e-4, rel=1e-3) and values[4] == pytest.approx(0.0, abs=1e-9)
    assert train.learning_rate(_config(), 10) == 1e-3  # constant: the rate itself
