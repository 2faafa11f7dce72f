"""Interim training loop for the forecaster (replaced by rnnkit.Trainer when it lands)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader


def train_network(network, train, val, cfg) -> list[dict]:
    generator = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(train, batch_size=cfg.batch_size, shuffle=True, generator=generator, drop_last=False)
    optimizer = torch.optim.Adam(network.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.max_steps)
    log, step = [], 0
    # Saturated gates drive activations into subnormal floats, which the CPU handles ~10x slower.
    torch.set_flush_denormal(True)
    while step < cfg.max_steps:
        for batch in loader:
            network.train()
            loss = network.training_step(batch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            if step % 100 == 0 or step == cfg.max_steps:
                entry = {"step": step, "train_loss": loss.item()}
                if val is not None:
                    network.eval()
                    with torch.no_grad():
                        metrics = [network.validation_step(b) for b in DataLoader(val, batch_size=256)]
                    entry["val_loss"] = float(sum(m["loss"] for m in metrics) / len(metrics))
                log.append(entry)
            if step >= cfg.max_steps:
                break
    return log
