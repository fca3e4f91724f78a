"""minisora.train.Trainer: exact resume, accumulation, NaN stop, clear errors; TrainConfig, EMA, schedule, RNG."""

import csv
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from minisora.core import read_checkpoint, save_checkpoint
from minisora.data import BouncingShapes
from minisora.diffusion import NoiseProcess, make_schedule
from minisora.models import UNET_PRESETS, VAE, VAE_PRESETS, UNet
from minisora.train import (
    EMA,
    DatasetBatches,
    NonFiniteLossError,
    TensorBatches,
    TrainConfig,
    Trainer,
    batches_from,
    lr_multiplier,
    train_denoiser,
    train_vae,
    unwrap,
)
from minisora.train.rng import capture_rng_state, restore_rng_state, seed_global_rngs


class Net(nn.Module):
    """A tiny regression network with dropout (so the global RNG matters) and a dataclass config."""

    def __init__(self, config=None):
        super().__init__()
        from dataclasses import dataclass

        @dataclass
        class Config:
            width: int = 8

        self.config = config or Config()
        self.body = nn.Sequential(nn.Linear(4, self.config.width), nn.ReLU(), nn.Dropout(0.2),
                                  nn.Linear(self.config.width, 1))

    def forward(self, x):
        return self.body(x)


def noisy_regression_loss(model, batch):
    """A loss that draws from the global RNG (like timesteps and noise do) and returns a metric too."""
    jitter = 0.01 * torch.randn_like(batch["y"])
    loss = (model(batch["x"]) - batch["y"] - jitter).pow(2).mean()
    return {"loss": loss, "half": loss / 2}


def regression_data(n=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=generator)
    return {"x": x, "y": x.sum(1, keepdim=True)}


def make_trainer(out_dir=None, steps=20, **overrides):
    torch.manual_seed(0)
    settings = dict(steps=steps, lr=1e-2, warmup=3, schedule="cosine", decay_steps=20, grad_accum=2,
                    ema_decay=0.9, log_every=4, seed=7)
    settings.update(overrides)
    return Trainer(Net(), noisy_regression_loss, TensorBatches(regression_data(), 8, seed=7), TrainConfig(**settings),
                   out_dir=out_dir, progress=False)


def test_a_run_stopped_and_resumed_from_disk_equals_the_uninterrupted_run_bit_for_bit(tmp_path):
    whole = make_trainer(tmp_path / "whole").fit()
    half = make_trainer(tmp_path / "half", steps=10).fit()
    assert half.step == 10 and (tmp_path / "half" / "last.pt").is_file()
    random.random(), np.random.rand(), torch.randn(3)  # the global generators move between the two processes' runs
    resumed = make_trainer(tmp_path / "half", steps=20).resume().fit()
    assert resumed.losses == whole.losses[10:]  # floats compared exactly
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(whole.ema.model.state_dict().values(), resumed.ema.model.state_dict().values()):
        assert torch.equal(a, b)
    assert whole.ema.num_updates == resumed.ema.num_updates == 20
    logs = [list(csv.reader(open(tmp_path / name / "log.csv"))) for name in ("whole", "half")]
    assert logs[0][0] == ["step", "loss", "lr", "grad_norm", "samples_per_s"] and len(logs[0]) == 21
    assert [row[:4] for row in logs[0]] == [row[:4] for row in logs[1]]  # the appended log equals the whole one
    assert [float(row[1]) for row in logs[0][1:]] == whole.losses


def test_fit_leaves_the_callers_generators_alone_and_one_seed_fixes_the_run():
    trainer = make_trainer(steps=6)
    seed_global_rngs(123)
    before = torch.randn(2)
    seed_global_rngs(123)
    first = trainer.fit().losses
    assert torch.equal(torch.randn(2), before)  # the run drew from its own streams
    torch.manual_seed(999), random.seed(5)  # another global state: the same run
    assert make_trainer(steps=6).fit().losses == first
    assert make_trainer(steps=6, seed=8).fit().losses != first


def test_fitting_in_pieces_in_memory_equals_one_fit():
    whole = make_trainer(steps=12).fit()
    pieces = make_trainer(steps=12)
    pieces.fit(5)
    torch.randn(10)
    pieces.fit(7)
    assert pieces.losses == whole.losses and len(pieces.metrics) == 12
    assert pieces.metrics[0]["half"] == pytest.approx(pieces.losses[0] / 2)


def test_gradient_accumulation_equals_one_batch_twice_as_large():
    def deterministic(model, batch):
        return (model(batch["x"]) - batch["y"]).pow(2).mean()

    results = []
    for batch_size, accum in ((16, 1), (8, 2)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        model.config = None
        config = TrainConfig(steps=6, lr=1e-2, warmup=0, grad_accum=accum, ema_decay=None, seed=1)
        trainer = Trainer(model, deterministic, TensorBatches(regression_data(), batch_size, seed=1), config,
                          progress=False).fit()
        results.append((trainer.losses, [p.detach().clone() for p in model.parameters()]))
    assert np.allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-7)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(results[0][1], results[1][1]))


def test_a_nan_loss_stops_training_naming_the_step_and_the_last_good_checkpoint(tmp_path):
    def poisoned(model, batch, calls=[0]):
        calls[0] += 1
        loss = noisy_regression_loss(model, batch)["loss"]
        return loss * float("nan") if calls[0] == 2 * 7 else loss  # the 7th step's second micro-batch

    torch.manual_seed(0)
    trainer = Trainer(Net(), poisoned, TensorBatches(regression_data(), 8, seed=7),
                      TrainConfig(steps=20, grad_accum=2, save_every=5, log_every=4), out_dir=tmp_path, progress=False)
    with pytest.raises(NonFiniteLossError, match=r"loss nan at step 7; the last good checkpoint is .*last\.pt"):
        trainer.fit()
    saved = read_checkpoint(tmp_path / "last.pt")
    assert saved["training"]["step"] == 5  # the weights after the NaN were never saved
    assert all(torch.isfinite(t).all() for t in saved["state_dict"].values())
    rows = list(csv.reader(open(tmp_path / "log.csv")))
    assert rows[-1][0] == "9" and rows[7][1] == "nan"  # flushed at 5 (the save), then 4 steps on: step 7 is NaN


def test_an_inf_loss_before_any_checkpoint_says_so():
    trainer = Trainer(Net(), lambda model, batch: model(batch["x"]).sum() * float("inf"),
                      TensorBatches(regression_data(), 8), TrainConfig(steps=3), progress=False)
    with pytest.raises(NonFiniteLossError, match="at step 1; no checkpoint was saved before it"):
        trainer.fit()


def test_resuming_another_network_config_or_settings_names_what_differs(tmp_path):
    make_trainer(tmp_path, steps=4).fit()
    with pytest.raises(ValueError, match=r"other settings \(lr: 0\.01 in the checkpoint, 0\.02 here\)"):
        make_trainer(tmp_path, steps=8, lr=2e-2).resume()
    with pytest.raises(ValueError, match="steps: 4 in the checkpoint, 8 here, with a cosine schedule"):
        make_trainer(tmp_path, steps=8, decay_steps=None).resume()
    other = make_trainer(tmp_path, steps=8)
    other.model = Net(type(other.model.config)(width=16))
    with pytest.raises(ValueError, match=r"another config \(width: 8 in the checkpoint, 16 here\)"):
        other.load(tmp_path / "last.pt")
    vae_trainer = Trainer(VAE(VAE_PRESETS["tiny"]), lambda m, b: b, [{}], TrainConfig(), progress=False)
    with pytest.raises(ValueError, match="holds a Net, but this run trains a VAE"):
        vae_trainer.load(tmp_path / "last.pt")
    with pytest.raises(ValueError, match="past steps=2"):
        make_trainer(tmp_path, steps=2, decay_steps=20).resume()
    plain = save_checkpoint(tmp_path / "plain.pt", Net())
    with pytest.raises(ValueError, match="no training state"):
        make_trainer().load(plain)
    data = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        make_trainer().load(tmp_path / "cut.pt")
    with pytest.raises(ValueError, match="needs the Trainer's out_dir"):
        make_trainer().resume()


def test_a_stream_rendered_by_dataloader_workers_resumes_exactly(tmp_path):
    clips = BouncingShapes(length=24, num_frames=4, height=16, width=16, seed=3)

    def build(steps, out):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(4 * 3 * 16 * 16, 1))
        model.config = None
        loss = lambda m, batch: (m(batch["video"]) - len(batch["caption"][0]) / 50).pow(2).mean()  # noqa: E731
        return Trainer(model, loss, DatasetBatches(clips, 4, seed=2, num_workers=2),
                       TrainConfig(steps=steps, lr=1e-3, warmup=0, ema_decay=None), out_dir=out, progress=False)

    # An unconfigured module cannot be saved, so give the two runs a config the checkpoint can hold.
    for name in ("whole", "half"):
        (tmp_path / name).mkdir()
    whole = build(10, None).fit()
    half = build(4, None)
    half.fit()
    path = tmp_path / "half.pt"
    half.model.config = Net().config
    half.save(path)
    resumed = build(10, None)
    resumed.model.config = Net().config
    resumed.load(path).fit()
    assert resumed.losses == whole.losses[4:] and resumed.batches_drawn == 10


def test_bf16_autocast_runs_and_precision_is_checked():
    trainer = make_trainer(steps=2, precision="bf16").fit()
    assert len(trainer.losses) == 2 and all(math.isfinite(x) for x in trainer.losses)
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        TrainConfig(precision="fp8")


@pytest.mark.parametrize("field, value", [("steps", -1), ("steps", 2.5), ("grad_accum", 0), ("log_every", 0),
                                          ("lr", 0), ("lr", float("nan")), ("weight_decay", -1), ("seed", -3),
                                          ("seed", True), ("warmup", "10"), ("schedule", "step"), ("betas", (0.9,)),
                                          ("max_grad_norm", 0), ("ema_decay", 1.0), ("min_lr_ratio", 2.0),
                                          ("decay_steps", 0), ("save_every", -5)])
def test_train_config_names_a_bad_field(field, value):
    with pytest.raises(ValueError, match=field if field not in ("betas",) else "betas"):
        TrainConfig(**{field: value})


def test_trainer_argument_errors():
    data = TensorBatches(regression_data(), 8)
    with pytest.raises(ValueError, match="model must be a torch.nn.Module"):
        Trainer("net", noisy_regression_loss, data)
    with pytest.raises(ValueError, match="loss_fn must be a callable"):
        Trainer(Net(), None, data)
    with pytest.raises(ValueError, match="config must be a TrainConfig"):
        Trainer(Net(), noisy_regression_loss, data, {"steps": 3})
    frozen = Net().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        Trainer(frozen, noisy_regression_loss, data)
    vector = Trainer(Net(), lambda m, b: m(b["x"]).squeeze(1), data, TrainConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match=r"loss_fn must return a scalar tensor.*\(8,\)"):
        vector.fit()
    with pytest.raises(ValueError, match="steps must be a non-negative int"):
        make_trainer().fit(-2)
    with pytest.raises(ValueError, match="no path to save to"):
        make_trainer().save()


def test_unwrap_finds_the_network_inside_compile():
    net = Net()
    assert unwrap(torch.compile(net)) is net and unwrap(net) is net  # compile is lazy: nothing is compiled here
    trainer = Trainer(torch.compile(net), noisy_regression_loss, TensorBatches(regression_data(), 8), progress=False)
    assert trainer.model is net


def test_tensor_batches_cover_an_epoch_and_slice_per_rank():
    data = {"i": torch.arange(20)}
    source = TensorBatches(data, 4, seed=1)
    stream = source.batches()
    epoch = torch.cat([next(stream)["i"] for _ in range(len(source))])
    assert sorted(epoch.tolist()) == list(range(20))
    assert not torch.equal(torch.cat([next(stream)["i"] for _ in range(5)]), epoch)  # the next epoch reshuffles
    single = TensorBatches(data, 4, seed=1).batches(start=3)
    ranks = [TensorBatches(data, 2, seed=1).batches(start=3, rank=r, world_size=2) for r in (0, 1)]
    for _ in range(6):
        assert torch.equal(next(single)["i"], torch.cat([next(r)["i"] for r in ranks]))
    late = TensorBatches(data, 4, seed=1).batches(start=7)
    stream = TensorBatches(data, 4, seed=1).batches()
    for _ in range(7):
        next(stream)
    assert torch.equal(next(late)["i"], next(stream)["i"])


def test_batch_sources_reject_bad_input():
    with pytest.raises(ValueError, match="different first dimensions"):
        TensorBatches({"x": torch.zeros(4, 2), "y": torch.zeros(3)}, 2)
    with pytest.raises(ValueError, match="non-empty dict"):
        TensorBatches(torch.zeros(4, 2), 2)
    with pytest.raises(ValueError, match=r"tensors\['x'\] is not a tensor"):
        TensorBatches({"x": [1, 2, 3]}, 2)
    with pytest.raises(ValueError, match="batch_size=8 x 1 rank"):
        TensorBatches({"x": torch.zeros(4, 2)}, 8)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        TensorBatches({"x": torch.zeros(4, 2)}, 0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        TensorBatches({"x": torch.zeros(4, 2)}, 2, seed=-1)
    with pytest.raises(ValueError, match="batch_size=2 x 4 rank"):
        next(TensorBatches({"x": torch.zeros(4, 2)}, 2).batches(rank=0, world_size=4))
    with pytest.raises(ValueError, match="0 <= rank < world_size"):
        next(TensorBatches({"x": torch.zeros(4, 2)}, 2).batches(rank=2, world_size=2))
    with pytest.raises(ValueError, match="num_workers must be a non-negative int"):
        DatasetBatches(BouncingShapes(length=4), 2, num_workers=-1)
    with pytest.raises(ValueError, match="map-style Dataset"):
        DatasetBatches(iter([1, 2, 3]), 2)
    for start in (-1, 1.5, True):  # a position is a count of batches already drawn
        with pytest.raises(ValueError, match=r"start must be a non-negative int \(the number of batches"):
            next(TensorBatches({"x": torch.zeros(4, 2)}, 2).batches(start=start))
    with pytest.raises(ValueError, match="0 <= rank < world_size"):
        next(TensorBatches({"x": torch.zeros(4, 2)}, 2).batches(world_size=0))
    with pytest.raises(ValueError, match="start must be a non-negative int"):
        next(DatasetBatches(BouncingShapes(length=4), 2).batches(start=-2))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 2.0"):
        DatasetBatches(BouncingShapes(length=4), 2.0)
    with pytest.raises(ValueError, match="cannot give each of 2 ranks its own batches; wrap the data"):
        batches_from([{"x": torch.zeros(2)}], world_size=2)
    with pytest.raises(ValueError, match="data must be an iterable of dict batches, got int"):
        batches_from(7)
    with pytest.raises(ValueError, match="start must be a non-negative int"):
        batches_from([{"x": torch.zeros(2)}], start=-1)


def test_a_plain_list_of_batches_is_cycled_and_skipped_on_resume():
    batches = [{"x": torch.full((2, 4), float(k)), "y": torch.zeros(2, 1)} for k in range(3)]
    seen = []
    trainer = Trainer(Net(), lambda m, b: seen.append(b["x"][0, 0].item()) or m(b["x"]).pow(2).mean(), batches,
                      TrainConfig(steps=5, ema_decay=None), progress=False).fit()
    assert seen == [0, 1, 2, 0, 1] and trainer.batches_drawn == 5
    with pytest.raises(ValueError, match="yielded no batches"):
        Trainer(Net(), noisy_regression_loss, [], TrainConfig(steps=1), progress=False).fit()


def test_ema_state_dict_round_trip_and_errors():
    net = Net()
    ema = EMA(net, 0.9)
    for _ in range(3):
        with torch.no_grad():
            net.body[0].weight.add_(1.0)
        ema.update()
    other = EMA(Net(), 0.9)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 3 and torch.equal(other.model.body[0].weight, ema.model.body[0].weight)
    with pytest.raises(ValueError, match="decay 0.9, this one 0.5"):
        EMA(Net(), 0.5).load_state_dict(ema.state_dict())
    with pytest.raises(ValueError, match="not an EMA state"):
        other.load_state_dict({"weights": 1})
    with pytest.raises(ValueError, match="decay must be a number"):
        EMA(net, "0.9")


def test_lr_schedule_warms_up_then_holds_or_follows_a_cosine():
    constant = [lr_multiplier(s, warmup=4, schedule="constant", total_steps=10) for s in range(10)]
    assert constant[:4] == [0.25, 0.5, 0.75, 1.0] and constant[4:] == [1.0] * 6
    cosine = [lr_multiplier(s, warmup=2, schedule="cosine", total_steps=12, min_lr_ratio=0.1) for s in range(12)]
    assert cosine[2] == pytest.approx(1.0) and cosine[-1] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(cosine[2:], cosine[3:]))  # decreasing after warm-up
    with pytest.raises(ValueError, match="unknown lr schedule 'linear'"):
        lr_multiplier(0, warmup=0, schedule="linear", total_steps=1)


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    seed_global_rngs(3)
    state = capture_rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    torch.save(state, tmp_path / "rng.pt")
    seed_global_rngs(99)
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    with pytest.raises(ValueError, match="not an RNG state"):
        restore_rng_state({"torch": 1})


def test_train_denoiser_same_seed_same_losses_whatever_the_global_rng():
    data = torch.randn(32, 3, 8, 8)
    labels = torch.zeros(32, 2, dtype=torch.long)
    process = NoiseProcess(make_schedule("linear", 1000))
    runs = []
    for global_seed in (0, 1):
        torch.manual_seed(0)
        model = UNet(UNET_PRESETS["tiny"], num_classes=(8, 3))
        torch.manual_seed(global_seed)  # label dropout, timesteps and noise must ignore this
        runs.append(train_denoiser(model, data, process, 4, labels=labels, batch_size=8, progress=False).losses)
    assert runs[0] == runs[1]


def test_train_vae_same_seed_same_losses_whatever_the_global_rng():
    frames = torch.rand(16, 3, 8, 8) * 2 - 1
    runs = []
    for global_seed in (0, 1):
        torch.manual_seed(0)
        vae = VAE(VAE_PRESETS["tiny"])
        torch.manual_seed(global_seed)  # the latent sampling must ignore this
        runs.append(train_vae(vae, frames, 3, batch_size=8, progress=False))
    assert runs[0] == runs[1] and len(runs[0]) == 3
