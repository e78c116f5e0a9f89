#!/usr/bin/python3
"""PyTorch peer for vaekit's benchmarks (see docs/PROTOCOL.md and bench/README.md).

Trains the canonical `mlp` or `conv` VAE on binarised Fashion-MNIST exactly as the protocol says and
reports seconds per epoch (and per step), the train loss, the test -ELBO (one sample) and the k-sample
importance-weighted NLL with its wall time.

Run with Debian's interpreter (PyTorch 1.13 from python3-torch) and one OpenBLAS thread:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_vae.py --model mlp --epochs 3 --eval-k 1000 --json

Progress goes to stderr; with --json the result is one JSON object on stdout.
"""
import argparse
import gzip
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = '/usr/share/datasets/fashion-mnist'
LOG2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------- data

def read_idx_images(path):
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype='>u4')
    if magic != 2051:
        raise ValueError(f'{path}: not an IDX image file (magic {magic})')
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(int(n), int(rows) * int(cols))


def load_binary(split, data_dir):
    """Binary protocol: pixels / 255, then x > 0.5 ? 1 : 0 (float32)."""
    name = 'train' if split == 'train' else 't10k'
    px = read_idx_images(os.path.join(data_dir, f'{name}-images-idx3-ubyte.gz'))
    x = (px.astype(np.float32) / 255.0 > 0.5).astype(np.float32)
    return torch.from_numpy(x)


# -------------------------------------------------------------------------------------------- models

class MlpVAE(nn.Module):
    """784 -> 400 ReLU -> (mu 20, logvar 20); 20 -> 400 ReLU -> 784 logits."""

    def __init__(self, latent=20, hidden=400):
        super().__init__()
        self.latent = latent
        self.enc1 = nn.Linear(784, hidden)
        self.enc2 = nn.Linear(hidden, 2 * latent)
        self.dec1 = nn.Linear(latent, hidden)
        self.dec2 = nn.Linear(hidden, 784)

    def encode(self, x):  # x: (B, 784)
        h = self.enc2(F.relu(self.enc1(x)))
        return h[:, :self.latent], h[:, self.latent:]

    def decode(self, z):  # -> (B, 784) logits
        return self.dec2(F.relu(self.dec1(z)))


class ConvVAE(nn.Module):
    """Encoder 28x28x1 -> conv 32 4x4/2 same -> ReLU -> conv 64 4x4/2 same -> ReLU -> flatten ->
    dense 256 ReLU -> (mu 16, logvar 16); the decoder mirrors it: dense 256 ReLU -> dense 7*7*64 ReLU ->
    convT 32 4x4/2 same -> ReLU -> convT 1 4x4/2 same -> 28x28x1 logits.
    'same' with a 4x4 kernel and stride 2 is padding 1 here (28 -> 14 -> 7 and back)."""

    def __init__(self, latent=16):
        super().__init__()
        self.latent = latent
        self.c1 = nn.Conv2d(1, 32, 4, stride=2, padding=1)
        self.c2 = nn.Conv2d(32, 64, 4, stride=2, padding=1)
        self.e1 = nn.Linear(7 * 7 * 64, 256)
        self.e2 = nn.Linear(256, 2 * latent)
        self.d1 = nn.Linear(latent, 256)
        self.d2 = nn.Linear(256, 7 * 7 * 64)
        self.t1 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
        self.t2 = nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1)

    def encode(self, x):  # x: (B, 784)
        h = F.relu(self.c1(x.view(-1, 1, 28, 28)))
        h = F.relu(self.c2(h))
        h = F.relu(self.e1(h.flatten(1)))
        h = self.e2(h)
        return h[:, :self.latent], h[:, self.latent:]

    def decode(self, z):
        h = F.relu(self.d1(z))
        h = F.relu(self.d2(h)).view(-1, 64, 7, 7)
        h = F.relu(self.t1(h))
        return self.t2(h).view(-1, 784)


MODELS = {'mlp': MlpVAE, 'conv': ConvVAE}


# ---------------------------------------------------------------------------------------- objectives

def neg_elbo(model, x):
    """Per-image -ELBO (nats): BCE-with-logits summed over pixels + analytic KL, one sample of eps.
    Returns (loss, rec, kl) as batch means."""
    mu, logvar = model.encode(x)
    eps = torch.randn_like(mu)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = model.decode(z)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction='none').sum(1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
    return (rec + kl).mean(), rec.mean(), kl.mean()


@torch.no_grad()
def test_elbo(model, x, batch=1000):
    model.eval()
    tot = rec_t = kl_t = 0.0
    for i in range(0, x.shape[0], batch):
        xb = x[i:i + batch]
        loss, rec, kl = neg_elbo(model, xb)
        n = xb.shape[0]
        tot += loss.item() * n
        rec_t += rec.item() * n
        kl_t += kl.item() * n
    n = x.shape[0]
    return tot / n, rec_t / n, kl_t / n


@torch.no_grad()
def test_nll(model, x, k, rows_per_pass=10000):
    """Importance-sampled -log p(x) with k samples of q(z|x): -(logsumexp_k(log p(x|z) + log p(z)
    - log q(z|x)) - log k), mean over images. Images are processed a few at a time so that one pass
    decodes at most `rows_per_pass` latent samples (memory stays well under a few GB)."""
    model.eval()
    imgs = max(1, rows_per_pass // k)
    total = 0.0
    for i in range(0, x.shape[0], imgs):
        xb = x[i:i + imgs]
        b = xb.shape[0]
        mu, logvar = model.encode(xb)                       # (b, d)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn(b, k, mu.shape[1])                # (b, k, d)
        z = mu.unsqueeze(1) + std.unsqueeze(1) * eps
        logits = model.decode(z.reshape(b * k, -1)).view(b, k, -1)
        # log p(x|z) = -BCE-with-logits summed over pixels = sum(x * l) - sum(softplus(l)); the same
        # value as F.binary_cross_entropy_with_logits, written so PyTorch does not materialise the
        # broadcast target (about 6x faster on this pass; the peer should be PyTorch at its best).
        log_px_z = (logits * xb.unsqueeze(1)).sum(2) - F.softplus(logits).sum(2)     # (b, k)
        log_pz = -0.5 * (z.pow(2) + LOG2PI).sum(2)
        log_qz = -0.5 * (eps.pow(2) + LOG2PI + logvar.unsqueeze(1)).sum(2)
        log_w = log_px_z + log_pz - log_qz
        ll = torch.logsumexp(log_w, dim=1) - math.log(k)
        total += -ll.sum().item()
    return total / x.shape[0]


# ------------------------------------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', choices=sorted(MODELS), default='mlp')
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--steps', type=int, default=0, help='cap on steps per epoch (0: a full epoch)')
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2, help='torch.set_num_threads (protocol: 2)')
    ap.add_argument('--eval-k', type=int, default=0, help='importance samples for the NLL (0: skip it)')
    ap.add_argument('--eval-limit', type=int, default=0, help='test images for the NLL (0: all 10,000)')
    ap.add_argument('--no-elbo', action='store_true', help='skip the test -ELBO')
    ap.add_argument('--data-dir', default=DATA_DIR)
    ap.add_argument('--json', action='store_true', help='print the result as one JSON object on stdout')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)   # batch order, reshuffled every epoch

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    xtr = load_binary('train', args.data_dir)
    xte = load_binary('test', args.data_dir)
    model = MODELS[args.model]()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    n = xtr.shape[0]
    bs = args.batch_size
    steps_full = (n + bs - 1) // bs
    steps = min(steps_full, args.steps) if args.steps > 0 else steps_full

    epochs = []
    for ep in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        s_loss = s_rec = s_kl = 0.0
        seen = 0
        for s in range(steps):
            idx = perm[s * bs:(s + 1) * bs]
            xb = xtr[idx]
            loss, rec, kl = neg_elbo(model, xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            b = xb.shape[0]
            s_loss += loss.item() * b
            s_rec += rec.item() * b
            s_kl += kl.item() * b
            seen += b
        secs = time.perf_counter() - t0
        e = {'epoch': ep, 'steps': steps, 'seconds': secs, 'seconds_per_step': secs / steps,
             'loss': s_loss / seen, 'rec': s_rec / seen, 'kl': s_kl / seen}
        epochs.append(e)
        log(f'[torch {args.model}] epoch {ep}: {steps} steps, {secs:.3f} s ({1e3 * secs / steps:.2f} ms/step), '
            f'loss {e["loss"]:.3f} (rec {e["rec"]:.3f}, kl {e["kl"]:.3f})')

    timed = epochs[1:] if len(epochs) > 1 else epochs
    result = {
        'framework': 'pytorch',
        'torch': torch.__version__,
        'python': platform.python_version(),
        'threads': torch.get_num_threads(),
        'openblas_num_threads': os.environ.get('OPENBLAS_NUM_THREADS'),
        'model': args.model,
        'seed': args.seed,
        'batch_size': bs,
        'epochs': epochs,
        'timed_epochs': [e['epoch'] for e in timed],
        'seconds_per_epoch': statistics.median(e['seconds'] for e in timed),
        'seconds_per_step': statistics.median(e['seconds_per_step'] for e in timed),
        'steps_per_epoch': steps,
        'full_epoch': steps == steps_full,
        'train_loss': epochs[-1]['loss'] if epochs else None,
    }
    if not args.no_elbo:
        t0 = time.perf_counter()
        elbo, rec, kl = test_elbo(model, xte)
        result.update(test_elbo=elbo, test_rec=rec, test_kl=kl, elbo_seconds=time.perf_counter() - t0)
        log(f'[torch {args.model}] test -ELBO {elbo:.3f} (rec {rec:.3f}, kl {kl:.3f})')
    if args.eval_k > 0:
        xn = xte[:args.eval_limit] if args.eval_limit > 0 else xte
        t0 = time.perf_counter()
        nll = test_nll(model, xn, args.eval_k)
        secs = time.perf_counter() - t0
        result.update(nll=nll, nll_k=args.eval_k, nll_images=int(xn.shape[0]), nll_seconds=secs)
        log(f'[torch {args.model}] test NLL (k={args.eval_k}, {xn.shape[0]} images) {nll:.3f} in {secs:.2f} s')
    if args.json:
        print(json.dumps(result))
    else:
        print(f'{args.model}: {result["seconds_per_epoch"]:.3f} s/epoch '
              f'({1e3 * result["seconds_per_step"]:.2f} ms/step, {steps} steps/epoch)')


if __name__ == '__main__':
    main()
