# A vaekit model as a PyTorch nn.Module, written by `vaekit export MODEL --pytorch DIR` (src/io/pytorch/).
#
#   import model                       # this file (DIR/model.py); needs only torch
#   m = model.load()                   # the module with the weights of DIR/model.safetensors
#   mu, log_var = m.encode(x)          # x flat [B, D] as vaekit has it (images H·W·C, row-major; y too for a cvae)
#   out = m.decode(z)                  # logits (Bernoulli, categorical) or means (Gaussian), flat [B, D]
#   loss, terms = m.neg_elbo(x)        # per example: −ELBO = rec + β·KL with z = μ + σ ε (what vaekit trains);
#                                      # m(x) is that loss alone (so DistributedDataParallel(m)(x) trains it)
#   model.save_safetensors(m.state_dict(), "DIR/model.safetensors")   # then: vaekit import DIR --out MODEL
#
# The networks are the ones vaekit built, layer for layer: ARCH (at the end of this file) lists each network's
# layers and how they connect (a graph of tfjs-layers' ops: dense, conv, transposed conv, reshape, permute,
# flatten, concat, padding, cropping, GRU/LSTM), and Graph runs it with torch ops, keeping vaekit's tensor
# layouts in between (feature maps NHWC, as tfjs has them; each convolution permutes to NCHW and back), so
# every output equals vaekit's to float rounding. The state dict's names and layouts are vaekit's
# model.safetensors: nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.GRU, nn.LSTM.
#
# The objectives follow vaekit's src/objectives (elbo.ts, vq.ts) and src/distributions: Bernoulli
# log p(x|z) = Σ x·l − softplus(l); Gaussian log N = −½ Σ (log 2π + log σ² + (x − μ)²/σ²); the categorical of
# a sequence scored up to and including its first end token (token 0); KL analytic (the hierarchical VAE's per
# layer at the sample of the layer above). Not here: vaekit's free bits, KL warm-up and dead-code restarts.
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

# ------------------------------------------------------------------------------------------------
# safetensors, read and written with the standard library and torch only (the format: an 8-byte little-endian
# header length, a JSON header {name: {dtype, shape, data_offsets}}, the little-endian tensor bytes)

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def load_safetensors(path):
    """{name: tensor} and the metadata of a .safetensors file."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, h in header.items():
        s, e = h["data_offsets"]
        dt = _DTYPES[h["dtype"]]
        raw = bytearray(buf[8 + n + s : 8 + n + e])
        t = torch.frombuffer(raw, dtype=dt) if len(raw) else torch.empty(0, dtype=dt)
        out[name] = t.reshape(h["shape"]).clone()
    return out, meta


def save_safetensors(tensors, path, metadata=None):
    """Writes {name: tensor} (moved to the CPU, contiguous) atomically: a temp file, fsync, then a rename."""
    items = [(k, v.detach().cpu().contiguous()) for k, v in tensors.items()]
    items.sort(key=lambda kv: (-kv[1].element_size(), kv[0]))  # largest alignment first
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in items:
        b = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------
# Layers

_ACT = {
    "linear": lambda t: t,
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "elu": F.elu,
    "softplus": F.softplus,
}


def _act(name):
    if name not in _ACT:
        raise ValueError("unknown activation %r" % name)
    return _ACT[name]


def _same_pad(size, k, s):
    """tfjs's 'same' padding of a strided convolution: (before, after)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class GRUv1(nn.Module):
    """The GRU of vaekit models saved before 0.2 (tfjs-layers' GRU, Keras reset_after=False):
    n = tanh(x W_n + b_in + b_hn + (r ⊙ h) U_n), the reset gate applied before the recurrent product, which
    torch.nn.GRU does not compute. Parameters named and laid out as nn.GRU's (gates r, z, n)."""

    def __init__(self, input_size, hidden_size, bidirectional=False):
        super().__init__()
        self.hidden_size = hidden_size
        self.dirs = ["_l0", "_l0_reverse"] if bidirectional else ["_l0"]
        H = hidden_size
        for d in self.dirs:
            self.register_parameter("weight_ih" + d, nn.Parameter(torch.zeros(3 * H, input_size)))
            self.register_parameter("weight_hh" + d, nn.Parameter(torch.zeros(3 * H, H)))
            self.register_parameter("bias_ih" + d, nn.Parameter(torch.zeros(3 * H)))
            self.register_parameter("bias_hh" + d, nn.Parameter(torch.zeros(3 * H)))

    def _run(self, x, h, d, reverse):
        H = self.hidden_size
        wi, wh = getattr(self, "weight_ih" + d), getattr(self, "weight_hh" + d)
        b = getattr(self, "bias_ih" + d) + getattr(self, "bias_hh" + d)
        gi = x @ wi.T + b  # [B, T, 3H]
        wr, wz, wn = wh.split(H, 0)
        T = x.shape[1]
        outs = [None] * T
        for s in range(T):
            t = T - 1 - s if reverse else s
            ir, iz, inn = gi[:, t].split(H, 1)
            r = torch.sigmoid(ir + h @ wr.T)
            z = torch.sigmoid(iz + h @ wz.T)
            n = torch.tanh(inn + (r * h) @ wn.T)
            h = (1 - z) * n + z * h
            outs[t] = h
        return torch.stack(outs, 1), h

    def forward(self, x, h0=None):
        B = x.shape[0]
        outs, finals = [], []
        for i, d in enumerate(self.dirs):
            h = h0[i] if h0 is not None else x.new_zeros(B, self.hidden_size)
            o, hT = self._run(x, h, d, i == 1)
            outs.append(o)
            finals.append(hT)
        return torch.cat(outs, 2), torch.stack(finals, 0)


def _attach(root, path, module):
    """root.a.b.c = module, creating plain nn.Module containers for a and b (state-dict names a.b.c.*)."""
    parts = path.split(".")
    for p in parts[:-1]:
        if not hasattr(root, p):
            root.add_module(p, nn.Module())
        root = getattr(root, p)
    root.add_module(parts[-1], module)


class Graph(nn.Module):
    """One vaekit network: its layers run in order, each on the outputs of the layers it names."""

    def __init__(self, spec, path):
        super().__init__()
        self.spec = spec
        self.prefix = path + "."
        for op in spec["layers"]:
            m = self._module(op)
            if m is not None:
                _attach(self, op["module"][len(self.prefix) :], m)

    def _module(self, op):
        kind = op["op"]
        if kind == "linear":
            return nn.Linear(op["in"], op["out"], bias=op["bias"])
        if kind == "conv2d":
            return nn.Conv2d(op["in"], op["out"], op["kernel"], stride=op["stride"], bias=op["bias"])
        if kind == "deconv2d":
            return nn.ConvTranspose2d(op["in"], op["out"], op["kernel"], stride=op["stride"], bias=op["bias"])
        if kind == "rnn":
            bi = op["bidirectional"]
            if op["cell"] == "gru":
                return nn.GRU(op["in"], op["hidden"], batch_first=True, bidirectional=bi)
            if op["cell"] == "lstm":
                return nn.LSTM(op["in"], op["hidden"], batch_first=True, bidirectional=bi)
            return GRUv1(op["in"], op["hidden"], bidirectional=bi)
        return None

    def _get(self, op):
        return self.get_submodule(op["module"][len(self.prefix) :])

    def forward(self, *inputs):
        v = dict(zip(self.spec["inputs"], inputs))
        for op in self.spec["layers"]:
            xs = [v[n] for n in op["inputs"]]
            v[op["name"]] = self._run(op, xs)
        return v[self.spec["output"]]

    def _run(self, op, xs):
        kind = op["op"]
        x = xs[0]
        if kind == "linear":
            return _act(op["act"])(self._get(op)(x))
        if kind == "conv2d":  # NHWC in and out
            y = x.permute(0, 3, 1, 2)
            if op["padding"] == "same":
                (kh, kw), (sh, sw) = op["kernel"], op["stride"]
                t, b = _same_pad(y.shape[2], kh, sh)
                l, r = _same_pad(y.shape[3], kw, sw)
                y = F.pad(y, (l, r, t, b))
            return _act(op["act"])(self._get(op)(y)).permute(0, 2, 3, 1)
        if kind == "deconv2d":
            m = self._get(op)
            y = F.conv_transpose2d(x.permute(0, 3, 1, 2), m.weight, None, stride=m.stride)
            if op["padding"] == "same":  # tfjs: out = in·s, starting ⌊(k − s)/2⌋ into the full output
                (kh, kw), (sh, sw) = op["kernel"], op["stride"]
                H, W = x.shape[1] * sh, x.shape[2] * sw
                t, l = max(kh - sh, 0) // 2, max(kw - sw, 0) // 2
                y = F.pad(y, (0, max(0, l + W - y.shape[3]), 0, max(0, t + H - y.shape[2])))[:, :, t : t + H, l : l + W]
            if m.bias is not None:
                y = y + m.bias[None, :, None, None]
            return _act(op["act"])(y).permute(0, 2, 3, 1)
        if kind == "reshape":
            return x.reshape(x.shape[0], *op["shape"])
        if kind == "permute":
            return x.permute(0, *op["dims"])
        if kind == "flatten":
            return x.reshape(x.shape[0], -1)
        if kind == "concat":
            return torch.cat(xs, op["axis"])
        if kind == "add":
            out = xs[0]
            for t in xs[1:]:
                out = out + t
            return out
        if kind == "act":
            return _act(op["act"])(x)
        if kind == "zeropad":  # [[top, bottom], [left, right]] of an NHWC map
            (t, b), (l, r) = op["padding"]
            return F.pad(x, (0, 0, l, r, t, b))
        if kind == "crop":
            (t, b), (l, r) = op["cropping"]
            return x[:, t : x.shape[1] - b, l : x.shape[2] - r, :]
        if kind == "repeat":
            return x[:, None, :].expand(x.shape[0], op["n"], x.shape[1])
        if kind == "rnn":
            m = self._get(op)
            state = None
            if len(xs) > 1:  # a decoder: h_0 (and c_0) from z
                state = (xs[1][None], xs[2][None]) if op["cell"] == "lstm" else xs[1][None]
            y, h = m(x, state) if state is not None else m(x)
            if op["return_sequences"]:
                return y
            if op["cell"] == "lstm":
                h = h[0]
            return torch.cat(list(h), 1)  # the final states [h_fwd(T), h_bwd(1)]
        raise ValueError("unknown layer op %r" % kind)


# ------------------------------------------------------------------------------------------------
# Distributions (per example, summed over the data dimensions)

LOG_2PI = math.log(2 * math.pi)


def bernoulli_log_prob(logits, x):
    return (x * logits - F.softplus(logits)).sum(-1)


def gaussian_log_prob(x, mu, log_var):
    return -0.5 * (LOG_2PI + log_var + (x - mu) ** 2 * torch.exp(-log_var)).sum(-1)


HALF_BIN = 1 / (2 * 255)


def discretized_logistic_log_prob(x, mu, log_scale):
    """log P(x) of 8-bit values x = k/255 under a logistic(mu, s) binned as in vaekit (src/distributions)."""
    inv_s = torch.exp(-log_scale.clamp(-12, 1))
    a = (x - mu + HALF_BIN) * inv_s
    b = (x - mu - HALF_BIN) * inv_s
    delta = 2 * HALF_BIN * inv_s
    mid = a - F.softplus(a) - F.softplus(b) + torch.log(-torch.expm1(-delta))
    low = -F.softplus(-a)
    high = -F.softplus(b)
    lp = torch.where(x < HALF_BIN, low, torch.where(x > 1 - HALF_BIN, high, mid))
    return lp.sum(-1)


def kl_std_normal(mu, log_var):
    return 0.5 * (mu**2 + torch.exp(log_var) - log_var - 1).sum(-1)


def kl_gaussians(mu_q, lv_q, mu_p, lv_p):
    return 0.5 * (lv_p - lv_q + (torch.exp(lv_q) + (mu_q - mu_p) ** 2) * torch.exp(-lv_p) - 1).sum(-1)


def _split(h):
    d = h.shape[1] // 2
    return h[:, :d], h[:, d:]


def _sample(mu, log_var, generator=None):
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * log_var) * eps


class _Base(nn.Module):
    def __init__(self, arch):
        super().__init__()
        self.arch = arch
        self.config = arch["config"]
        # the run's objective settings (vaekit's training.objective; models of format < 3 held β in their config)
        objective = arch.get("objective") or {}
        self.beta = objective.get("beta", self.config.get("beta", 1))
        self.word_dropout = objective.get("wordDropout", self.config.get("wordDropout", 0))
        for name, spec in arch["nets"].items():
            self.add_module(name, Graph(spec, name))
        lv = arch.get("decoder_log_var")
        self.learned_log_var = lv == "learned"
        if self.learned_log_var:
            self.decoder.log_var = nn.Parameter(torch.zeros(1, arch["decoder_width"]))
        elif lv is not None:  # a fixed σ: not a parameter, not in the state dict
            self.register_buffer("fixed_log_var", torch.full((1, arch["decoder_width"]), float(lv)), persistent=False)
        if self.config.get("likelihood") == "discretized-logistic":
            self.decoder.log_scale = nn.Parameter(torch.full((1, arch["decoder_width"]), math.log(1 / 16)))

    def forward(self, *args, **kwargs):
        """The per-example training loss, neg_elbo(...)[0]: what DistributedDataParallel(model)(x) returns."""
        return self.neg_elbo(*args, **kwargs)[0]

    def decoder_log_var(self):
        return self.decoder.log_var if self.learned_log_var else self.fixed_log_var

    def log_px(self, x, out):
        """log p(x|z) from the decoder's output (logits or means), [B]."""
        if self.config["likelihood"] == "bernoulli":
            return bernoulli_log_prob(out, x)
        if self.config["likelihood"] == "discretized-logistic":
            return discretized_logistic_log_prob(x, out, self.decoder.log_scale)
        return gaussian_log_prob(x, out, self.decoder_log_var())


class VAE(_Base):
    """q(z|x) = N(μ, diag σ²), [μ, log σ²] = encoder(x); p(x|z) from decoder(z); p(z) = N(0, I)."""

    def encode(self, x):
        return _split(self.encoder(x))

    def decode(self, z):
        return self.decoder(z)

    def neg_elbo(self, x, sample=True, generator=None):
        mu, lv = self.encode(x)
        z = _sample(mu, lv, generator) if sample else mu
        rec = -self.log_px(x, self.decode(z))
        kl = kl_std_normal(mu, lv)
        return rec + self.beta * kl, {"rec": rec, "kl": kl}


class CVAE(_Base):
    """The conditional VAE: every network also reads onehot(y); p(z|y) = N(0, I) or the learned N(μ_y, σ²_y)."""

    def onehot(self, y):
        return F.one_hot(y.long(), self.config["numClasses"]).to(torch.float32)

    def encode(self, x, y):
        return _split(self.encoder(x, self.onehot(y)))

    def decode(self, z, y):
        return self.decoder(z, self.onehot(y))

    def prior_params(self, y):
        if self.config["prior"] != "learned":
            return None
        return _split(self.prior(self.onehot(y)))

    def neg_elbo(self, x, y, sample=True, generator=None):
        mu, lv = self.encode(x, y)
        z = _sample(mu, lv, generator) if sample else mu
        rec = -self.log_px(x, self.decode(z, y))
        p = self.prior_params(y)
        kl = kl_std_normal(mu, lv) if p is None else kl_gaussians(mu, lv, p[0], p[1])
        return rec + self.beta * kl, {"rec": rec, "kl": kl}


class HVAE(_Base):
    """The ladder VAE: bottom-up Gaussians q̂_l, combined top-down with p(z_l | z_{l+1}) by precision weighting."""

    def encode(self, x):
        """The bottom-up [(μ̂_l, log σ̂²_l)] for l = 1 … L."""
        h = self.encoder(x)
        out = [_split(h)]
        for l in range(2, len(self.config["latentDims"]) + 1):
            h = getattr(self, "encoder%d" % l)(h)
            out.append(_split(h))
        return out

    def conditional_prior(self, l, z_above):
        """p(z_l | z_{l+1}), 0-based l < L − 1."""
        return _split(getattr(self, "prior%d" % (l + 1))(z_above))

    def decode(self, z1):
        return self.decoder(z1)

    def posterior(self, x, sample=True, generator=None):
        """Top-down: z_L ~ q̂_L, z_l ~ q(z_l | z_{l+1}, x); returns the zs (bottom first) and per-layer KLs."""
        bu = self.encode(x)
        L = len(bu)
        zs, kls = [None] * L, [None] * L
        mu, lv = bu[L - 1]
        zs[L - 1] = _sample(mu, lv, generator) if sample else mu
        kls[L - 1] = kl_std_normal(mu, lv)
        for l in range(L - 2, -1, -1):
            mp, lp = self.conditional_prior(l, zs[l + 1])
            mh, lh = bu[l]
            w = torch.sigmoid(lp - lh)  # σ²_p / (σ̂² + σ²_p)
            mq, lq = mp + w * (mh - mp), lh - F.softplus(lh - lp)
            zs[l] = _sample(mq, lq, generator) if sample else mq
            kls[l] = kl_gaussians(mq, lq, mp, lp)
        return zs, kls

    def neg_elbo(self, x, sample=True, generator=None):
        zs, kls = self.posterior(x, sample, generator)
        rec = -self.log_px(x, self.decode(zs[0]))
        kl = sum(kls)
        terms = {"rec": rec, "kl": kl}
        for l, k in enumerate(kls):
            terms["kl%d" % (l + 1)] = k
        return rec + self.beta * kl, terms


class SeqVAE(_Base):
    """The sentence VAE: a (bi)RNN encoder, and a decoder RNN reading [x_{t−1}, z] with h_0 = tanh(dense(z))."""

    END_TOKEN = 0

    def __init__(self, arch):
        super().__init__(arch)
        self.steps, self.width = self.config["inputShape"]

    def encode(self, x):
        return _split(self.encoder(x))

    def shift_right(self, x):
        B = x.shape[0]
        return torch.cat([x.new_zeros(B, self.width), x[:, : -self.width]], 1)

    def decode(self, z, x, word_dropout=0.0, generator=None):
        """Teacher forcing: the decoder's per-step outputs [B, T·O] given x (its inputs x shifted right)."""
        prev = self.shift_right(x)
        if word_dropout > 0:
            B = x.shape[0]
            u = torch.rand((B, self.steps, 1), generator=generator, device=x.device)
            prev = (prev.view(B, self.steps, self.width) * (u >= word_dropout)).view(B, -1)
        return self.decoder(z, prev)

    def log_px(self, x, out):
        B, T, V = x.shape[0], self.steps, self.width
        if self.config["likelihood"] == "categorical":
            x3 = x.view(B, T, V)
            per_step = (x3 * F.log_softmax(out.view(B, T, V), -1)).sum(-1)
            is_end = x3[:, :, self.END_TOKEN]
            ends_before = torch.cumsum(is_end, 1) - is_end  # Σ_{s<t} [x_s = end]
            return (per_step * (ends_before <= 0.5)).sum(-1)
        return gaussian_log_prob(x, out, self.decoder_log_var().repeat(1, T))

    def neg_elbo(self, x, sample=True, generator=None, word_dropout=None):
        if word_dropout is None:
            word_dropout = self.word_dropout if self.training else 0
        mu, lv = self.encode(x)
        z = _sample(mu, lv, generator) if sample else mu
        rec = -self.log_px(x, self.decode(z, x, word_dropout, generator))
        kl = kl_std_normal(mu, lv)
        return rec + self.beta * kl, {"rec": rec, "kl": kl}


class Quantizer(nn.Module):
    def __init__(self, K, D, ema, restarts):
        super().__init__()
        self.embedding = nn.Parameter(torch.zeros(K, D), requires_grad=not ema)
        if ema:
            self.register_buffer("ema_cluster_size", torch.zeros(K))
            self.register_buffer("ema_w", torch.zeros(K, D))
        if restarts:
            self.register_buffer("unused_steps", torch.zeros(K))


class VQVAE(_Base):
    """The VQ-VAE: z_e = encoder(x) [B, M, D], k = argmin ‖z_e − e_j‖², p(x | z_q = e_k); the PixelCNN prior p(k)."""

    def __init__(self, arch):
        super().__init__(arch)
        c = self.config
        self.K, self.D, self.M = c["codebookSize"], c["codeDim"], arch["num_codes"]
        self.quantizer = Quantizer(self.K, self.D, bool(c.get("ema")), bool(c.get("restartAfter")))

    def encode_continuous(self, x):
        return self.encoder(x).view(x.shape[0], self.M, self.D)

    def quantize(self, z_e):
        """k [B, M] (the first nearest code on ties) and e = e_k [B, M, D]."""
        E = self.quantizer.embedding
        flat = z_e.reshape(-1, self.D)
        s = (E**2).sum(1)[None, :] - 2 * flat @ E.T  # ‖e‖² − 2 z·e (‖z‖² is the same for every k)
        k = torch.argmin(s, 1).view(z_e.shape[0], self.M)
        return k, E[k]

    def encode(self, x):
        return self.quantize(self.encode_continuous(x))[0]

    def decode(self, k):
        """The decoder's output for codes k [B, M] (indices)."""
        return self.decoder(self.quantizer.embedding[k.long()].reshape(k.shape[0], -1))

    def prior_logits(self, k):
        """The PixelCNN's logits of p(k_i | k_<i), [B, M, K] (teacher forcing)."""
        onehot = F.one_hot(k.long(), self.K).to(torch.float32).reshape(k.shape[0], -1)
        return self.prior(onehot).view(k.shape[0], self.M, self.K)

    def prior_log_prob(self, k):
        if not hasattr(self, "prior"):
            return torch.full((k.shape[0],), -self.M * math.log(self.K))
        lp = F.log_softmax(self.prior_logits(k), -1)
        return lp.gather(2, k.long()[:, :, None]).squeeze(2).sum(1)

    def neg_elbo(self, x, sample=True, generator=None):
        """The training loss rec + ‖sg[z_e] − e‖² (without EMA) + β‖z_e − sg[e]‖², straight-through z_q."""
        z_e = self.encode_continuous(x)
        k, e = self.quantize(z_e)
        z_q = z_e + (e - z_e).detach()
        rec = -self.log_px(x, self.decoder(z_q.reshape(x.shape[0], -1)))
        commitment = self.config["commitment"] * ((z_e - e.detach()) ** 2).sum((1, 2))
        terms = {"rec": rec, "commitment": commitment, "codes": k}
        total = rec + commitment
        if not self.config.get("ema"):
            terms["codebook"] = ((z_e.detach() - e) ** 2).sum((1, 2))
            total = total + terms["codebook"]
        return total, terms

    @torch.no_grad()
    def update_codebook(self, z_e, k):
        """The EMA update (config.ema): N ← γN + (1−γ)n, m ← γm + (1−γ)Σz, e = m / Ñ (Laplace-smoothed N)."""
        ema = self.config.get("ema")
        if not ema:
            return
        g, eps = ema["decay"], ema["epsilon"]
        q = self.quantizer
        onehot = F.one_hot(k.reshape(-1), self.K).to(z_e.dtype)
        n_k = onehot.sum(0)
        sums = onehot.T @ z_e.reshape(-1, self.D)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # under DistributedDataParallel: the counts and sums of the global batch, so every rank's codebook agrees
            torch.distributed.all_reduce(n_k)
            torch.distributed.all_reduce(sums)
        q.ema_cluster_size.mul_(g).add_((1 - g) * n_k)
        q.ema_w.mul_(g).add_((1 - g) * sums)
        n = q.ema_cluster_size.sum()
        ns = (q.ema_cluster_size + eps) / (n + self.K * eps) * n
        q.embedding.copy_(q.ema_w / ns[:, None])


KINDS = {"vae": VAE, "cvae": CVAE, "hvae": HVAE, "seqvae": SeqVAE, "vqvae": VQVAE}


def build(arch=None):
    """The module for ARCH (this file's model), with the weights vaekit initialises to left at zero."""
    arch = arch or ARCH
    kind = arch["config"]["kind"]
    if kind not in KINDS:
        raise ValueError("unknown vaekit model kind %r (this file knows %s)" % (kind, ", ".join(KINDS)))
    return KINDS[kind](arch)


def load(directory=None, arch=None):
    """The module with the weights of DIRECTORY/model.safetensors (default: this file's directory)."""
    directory = directory or os.path.dirname(os.path.abspath(__file__))
    m = build(arch)
    state, _ = load_safetensors(os.path.join(directory, "model.safetensors"))
    m.load_state_dict(state, strict=True)
    return m
