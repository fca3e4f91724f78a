"""Data parallelism on 2 gloo processes (CPU): torchrun, identical weights, 2 x b = 1 x 2b, a dead rank, the CLI."""

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

WORKER = Path(__file__).with_name("distributed_worker.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MINISORA_FAST": "1"}


def torchrun(*args, timeout=240):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=ENV)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_keep_identical_weights_and_equal_one_rank_with_twice_the_batch(tmp_path):
    (tmp_path / "two").mkdir(), (tmp_path / "one").mkdir()
    result = torchrun(WORKER, "train", tmp_path / "two", 8)
    assert result.returncode == 0, result.stderr[-3000:]
    single = subprocess.run([sys.executable, WORKER, "train", tmp_path / "one", "16"], capture_output=True, text=True,
                            timeout=120, env={**ENV, "WORLD_SIZE": "1"})
    assert single.returncode == 0, single.stderr[-3000:]
    ranks = [torch.load(tmp_path / "two" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    one = torch.load(tmp_path / "one" / "rank0.pt", weights_only=True)
    for a, b, c in zip(ranks[0]["parameters"], ranks[1]["parameters"], one["parameters"]):
        assert torch.equal(a, b)  # DDP broadcast rank 0's start and averaged every gradient
        assert torch.allclose(a, c, atol=1e-6)  # the same steps as one process with the whole batch
    mean_of_ranks = [(p + q) / 2 for p, q in zip(ranks[0]["losses"], ranks[1]["losses"])]
    assert len(mean_of_ranks) == 8 and all(abs(p - q) < 1e-6 for p, q in zip(mean_of_ranks, one["losses"]))
    assert ranks[0]["losses"] != ranks[1]["losses"]  # each rank saw its own half of every batch


def test_a_rank_that_dies_makes_the_other_exit_with_an_error_not_hang(tmp_path):
    env = {**ENV, "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    processes = [subprocess.Popen([sys.executable, WORKER, "die", tmp_path, "4"], env={**env, "RANK": str(r),
                                  "LOCAL_RANK": str(r)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for r in (0, 1)]
    start = time.monotonic()
    try:
        codes = [p.wait(timeout=90) for p in processes]  # bounded: a hang fails here
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    assert codes[1] == 1 and codes[0] != 0, codes
    assert time.monotonic() - start < 90
    assert not (tmp_path / "rank0.pt").exists()


def test_minisora_train_under_torchrun_logs_once_and_saves_from_rank_0(tmp_path):
    result = torchrun("-m", "minisora", "train", "dit", "--out", tmp_path / "run", "--steps", 4, "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.reader(open(tmp_path / "run" / "log.csv")))
    assert [row[0] for row in rows] == ["step", "1", "2", "3", "4"]  # one log, not one per rank
    assert result.stdout.count("2 process(es)") == 1
    training = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["training"]
    assert training["world_size"] == 2 and len(training["rng"]) == 2 and training["step"] == 4
