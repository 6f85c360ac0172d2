"""DDP with 2 processes on gloo (CPU): completes, replicas stay identical after every step, the loss
matches a 1-process run on the same global batch (up to per-process BatchNorm statistics), and only
rank 0 writes into the run folder."""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest
import torch
import torch.multiprocessing as mp
from train_helpers import BlobClips, tiny_config

from synergywarp.train import distributed as D
from synergywarp.train.logging import read_log
from synergywarp.train.trainer import Trainer

STEPS = 4
PHASES = [{"until_step": 2, "rac": False, "references": 0}, {"rac": True}]


def _config():
    return tiny_config(batch_size=4, max_steps=STEPS, log_every=1, checkpoint_every=2, check_replicas_every=1,
                       phases=PHASES)


def _is_write(event: str, args: tuple) -> bool:
    if event == "open":
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        if isinstance(mode, str):
            return any(c in mode for c in "wax+")
        return bool(isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
    return event in ("os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "shutil.rmtree", "os.truncate")


def _worker(rank: int, world: int, port: int, run: str, results: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    written: list[str] = []

    def audit(event: str, args: tuple) -> None:
        if args and isinstance(args[0], (str, os.PathLike)) and str(args[0]).startswith(run) and _is_write(event, args):
            written.append(f"{event} {args[0]}")

    sys.addaudithook(audit)
    ctx = D.init_distributed("cpu")
    try:
        assert ctx.world_size == world and ctx.rank == rank
        trainer = Trainer(_config(), run, BlobClips(), ctx=ctx)
        trainer.train()
        checksum = D.parameter_checksum(trainer.model).tolist()
    finally:
        D.shutdown(ctx)
    with open(os.path.join(results, f"rank{rank}.json"), "w") as f:
        json.dump({"written": written, "checksum": checksum, "step": trainer.step}, f)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_processes_gloo(tmp_path):
    run, results = tmp_path / "ddp", tmp_path / "results"
    results.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(run), str(results)), nprocs=2, join=True)
    ranks = [json.loads((results / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["step"] == ranks[1]["step"] == STEPS
    assert ranks[0]["checksum"] == ranks[1]["checksum"]  # also checked after every step inside the run
    assert ranks[1]["written"] == [], ranks[1]["written"][:5]
    assert any("log.csv" in w for w in ranks[0]["written"])
    assert (run / "checkpoints" / "step_00000004").is_dir() and (run / "model_ema.safetensors").is_file()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(_config(), tmp_path / "single", BlobClips()).train()
    finally:
        torch.set_num_threads(threads)
    ddp_log, single_log = read_log(run / "log.csv"), read_log(tmp_path / "single" / "log.csv")
    assert [r["step"] for r in ddp_log] == [r["step"] for r in single_log] == list(range(1, STEPS + 1))
    for ddp_row, single_row in zip(ddp_log, single_log):
        for key in ("loss/l1", "loss/total"):
            a, b = ddp_row[key], single_row[key]
            assert abs(a - b) <= 0.02 * abs(b) + 1e-3, f"step {ddp_row['step']} {key}: ddp {a} vs 1 process {b}"
