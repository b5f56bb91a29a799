"""One jitted call per Algorithm-1 iteration, for small all-Dense G and D.

For tiny networks (the 1-D toy's 1-16-16-1, say) the arithmetic of an iteration takes a few
microseconds; what costs is Python: dozens of layer calls, each allocating and dispatching.
This module removes that cost without forking the layer semantics:

- it runs on the very same arrays as the layers: a Sequential keeps its parameters and their
  gradients in one flat vector (``flat_params``/``flat_grads``) of which each layer's
  ``params``/``grads`` are views, and the optimiser's velocity is laid out the same way, so
  the Trainer can switch between paths at any iteration and plain arrays reach the kernel
  (typed lists of arrays cost more to hand to a jitted function than the work itself);
- its products run in feature-major loops (``dense_forward_t_nb``, ``dense_backward_t_nb`` in
  kernels/dense.py): activations are stored transposed, (width, m), so that every inner loop
  runs along the batch, where a 16-wide layer stored (m, 16) would give loops one vector long;
  each has a NumPy twin, and tests compare the whole step with the layer path to rounding;
- the run's Generator draws every noise and data minibatch in Algorithm 1's order, so a seed
  gives the same run on either path: for the two noise priors and array data inside a jitted
  call (Numba's Generator methods draw NumPy's numbers; the Generator is handed over in a
  struct, ``GeneratorRef``, which costs far less per call than the Generator itself), for
  anything else in Python;
- D's step is one pass on the 2m rows [x; G(z)], as the layer path's on this backend
  (``Trainer.d_step``): D is rowwise here, so that is the same gradient as two passes;
- tanh and the sigmoid are the vectorisable float32 forms of kernels/approx.py (the exact
  functions in float64);
- every buffer is allocated once, when the plan is built: a steady-state iteration allocates
  nothing but the minibatches the Generator draws.

It applies when both networks are Dense layers each followed by at most one of ReLU,
LeakyReLU, Tanh or Sigmoid (either may start with a fixed Affine, and G may end with one: a
change of units, applied as inputs are copied in), every layer's product on a batch of m is
at most ``FUSED_MAX_MACS`` multiply-adds (larger ones belong to BLAS, through the layer path),
both optimisers are SGD, and the backend is numba.
"""

from __future__ import annotations

import math

import numpy as np
from numba.core import types
from numba.experimental import structref

from .. import kernels
from ..kernels import jit
from ..kernels.approx import logistic32, tanh32
from ..kernels.dense import dense_backward_t_nb, dense_forward_t_nb
from ..kernels.elementwise import logistic
from ..kernels.loss import sigmoid_cross_entropy_nb
from ..kernels.optim import sgd_momentum_nb
from ..nn import SGD, Affine, Dense, LeakyReLU, Sigmoid, Tanh

IDENTITY, LEAKY, TANH, SIGMOID = 0, 1, 2, 3

# The fused step keeps every product in jitted loops; it beats or ties the layer path, whose
# Python overhead it saves, at every batch size measured up to this many multiply-adds per
# layer on a batch of m (D's step runs on 2m rows: twice that), benchmarks/fused_crossover.py;
# docs/kernels.md, "Where the fused step stops winning".
FUSED_MAX_MACS = 65_536


def _units(net, *, end: bool):
    """(layers, (scale, shift) in, (scale, shift) out): a network without the Affine it may
    start with, and, if ``end``, the one it may end with; (1, 0) where there is none."""
    layers, first, last = list(net.layers), (1.0, 0.0), (1.0, 0.0)
    if layers and type(layers[0]) is Affine:
        first, layers = (layers[0].scale, layers[0].shift), layers[1:]
    if end and layers and type(layers[-1]) is Affine:
        last, layers = (layers[-1].scale, layers[-1].shift), layers[:-1]
    return layers, first, last


def _encode(net, *, end: bool = False):
    """[(Dense, activation code, alpha)] for a stack of Dense + optional activation, or None.

    The stack may start with an Affine and, if ``end`` (G), end with one: see ``_units``."""
    plan, (layers, _, _), i = [], _units(net, end=end), 0
    if not layers:
        return None
    while i < len(layers):
        dense = layers[i]
        if type(dense) is not Dense:
            return None
        code, alpha, i = IDENTITY, 0.0, i + 1
        if i < len(layers) and not isinstance(layers[i], Dense):
            act = layers[i]
            if isinstance(act, LeakyReLU):  # ReLU is LeakyReLU with alpha 0
                code, alpha = LEAKY, act.alpha
            elif type(act) is Tanh:
                code = TANH
            elif type(act) is Sigmoid:
                code = SIGMOID
            else:
                return None
            i += 1
        plan.append((dense, code, alpha))
    return plan


def fusable(gan, opt_g, opt_d, batch_size: int, objective=None) -> bool:
    """Whether ``FusedStep`` can run this GAN (see the module docstring for the conditions).

    ``objective`` (default: the 2014 cross-entropy) must be fixed-target cross-entropy.
    """
    if kernels.get_backend() != "numba":
        return False
    if objective is not None and objective.fused_targets() is None:
        return False
    if type(opt_g) is not SGD or type(opt_d) is not SGD:
        return False
    for net, end in ((gan.G, True), (gan.D, False)):
        plan = _encode(net, end=end)
        if plan is None:
            return False
        for dense, _, _ in plan:
            if batch_size * dense.in_features * dense.out_features > FUSED_MAX_MACS:
                return False
    return True


@jit
def _activate(h, code, alpha):
    """h = act(h) in place.  In float32, tanh and the sigmoid are the vectorisable forms of
    kernels/approx.py (within 3 ulps; a loop of math.tanh is one scalar call per element, 2-3x
    slower over the whole step); in float64 (gradient checks) the exact functions."""
    hf = h.reshape(-1)
    single = hf.itemsize == 4
    if code == 1:
        for i in range(hf.size):
            v = hf[i]
            hf[i] = v if v > 0 else alpha * v
    elif code == 2 and single:
        for i in range(hf.size):
            hf[i] = tanh32(hf[i])
    elif code == 2:
        for i in range(hf.size):
            hf[i] = math.tanh(hf[i])
    elif code == 3 and single:
        for i in range(hf.size):
            hf[i] = logistic32(hf[i])
    elif code == 3:
        for i in range(hf.size):
            hf[i] = logistic(hf[i])


@jit
def _activate_backward(g, y, code, alpha):
    """g *= f'(x) written in terms of the output y, in place."""
    gf, yf = g.reshape(-1), y.reshape(-1)
    one = yf.dtype.type(1)  # 1 in the buffers' precision (a literal 1.0 is float64)
    if code == 1:
        for i in range(gf.size):
            gf[i] = gf[i] if yf[i] > 0 else alpha * gf[i]
    elif code == 2:
        for i in range(gf.size):
            gf[i] = gf[i] * (one - yf[i] * yf[i])
    elif code == 3:
        for i in range(gf.size):
            gf[i] = gf[i] * yf[i] * (one - yf[i])


@jit
def _view(flat, offset, rows, cols):
    return flat[offset : offset + rows * cols].reshape(rows, cols)


@jit
def _forward(p, layout, act, alpha, h, m):
    """Activations are feature-major: activation l lives at h[layout[l, 4]:] as a (width, m)
    array, one row per unit, so that every inner loop runs along the batch (kernels/dense.py,
    "feature-major forms").  Layer l reads activation l and writes activation l + 1:
    act_l(W_l.T @ h_l + b_l).  layout rows: (in, out, offset of W in p, offset of b in p,
    offset of the layer's input in h)."""
    for layer in range(layout.shape[0] - 1):
        n_in, n_out, off_W, off_b, off_x = layout[layer]
        out = _view(h, layout[layer + 1, 4], n_out, m)
        dense_forward_t_nb(
            _view(h, off_x, n_in, m), _view(p, off_W, n_in, n_out), p[off_b : off_b + n_out], out
        )
        _activate(out, act[layer], alpha[layer])


@jit
def _backward(p, g, layout, act, alpha, h, dh, m, param_grads, input_grad):
    """dh holds dL/d(output) at the last activation's place, feature-major as h; fills dL/dh_l
    down to the input (the input's own only if input_grad) and, if param_grads, accumulates
    into g."""
    for layer in range(layout.shape[0] - 2, -1, -1):
        n_in, n_out, off_W, off_b, off_x = layout[layer]
        off_out = layout[layer + 1, 4]
        dout = _view(dh, off_out, n_out, m)
        _activate_backward(dout, _view(h, off_out, n_out, m), act[layer], alpha[layer])
        dense_backward_t_nb(
            dout,
            _view(h, off_x, n_in, m),
            _view(p, off_W, n_in, n_out),
            _view(dh, off_x, n_in, m),
            _view(g, off_W, n_in, n_out),
            g[off_b : off_b + n_out],
            param_grads,
            input_grad or layer > 0,
        )


@jit
def _affine_into(dst, src, units):
    """dst = src * units[0] + units[1], elementwise, in the buffers' dtype (as Affine does)."""
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[i, j] = src[i, j] * units[0] + units[1]


@jit
def _affine_transposed(dst, src, units):
    """dst = src.T * units[0] + units[1]: a batch-major minibatch (m, width) into a network's
    feature-major input (width, m)."""
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[j, i] = src[i, j] * units[0] + units[1]


@jit
def _mean_sigmoid(grad, t):
    """mean_i sigmoid(a_i), read off the D step's loss gradient grad_i = (sigmoid(a_i) - t_i)
    / m instead of taking m more exponentials."""
    m = grad.shape[0]
    total = 0.0
    for i in range(m):
        total += grad[i, 0] * m + t[i, 0]
    # t + (sigmoid - t) can round a hair outside [0, 1] (sigmoid ~ 0 with t = 1, in float32)
    return min(max(total / m, 0.0), 1.0)


@jit
def _iteration(G, D, z_d, x_d, z_g, lr_d, mu_d, lr_g, mu_g, targets, g_scale, stats, units, x_fake):
    """k D steps on (z_d[i], x_d[i]), then one G step on z_g.

    G and D are tuples (p, g, v, layout, act, alpha, h, dh): the flat parameters, gradients
    and velocities of the network, its layout (see _forward), activation codes and slopes, and
    flat buffers for the activations and their gradients (feature-major).  The gradients must
    be zero on entry (the Trainer sees to it); each update zeroes the gradient it consumed, as
    the layer path's do, so they are zero on exit too.
    z_d (k, m, nz), x_d (k, m, nx) and z_g (m, nz) are batch-major, as drawn.
    targets: (3, m, 1), the cross-entropy targets on data, on fakes, and G's; g_scale: +1 or
    -1 (minimax G minimises minus a cross-entropy).
    stats: d_loss, d_real, d_fake (summed over the k D steps), g_loss.
    units: (3, 2), (scale, shift) of G's input, G's output and D's input Affine ((1, 0): none);
    x_fake: (nx, m), G's samples after its output Affine, feature-major.
    D's output is one logit per row, so its (1, rows) activation is also a (rows, 1) column:
    the loss reads it as one.
    """
    Gp, Gg, Gv, Glayout, Gact, Galpha, Gh, Gdh = G
    Dp, Dg, Dv, Dlayout, Dact, Dalpha, Dh, Ddh = D
    m = z_g.shape[0]
    nz, nx = Glayout[0, 0], Dlayout[0, 0]
    g_out, d_out = Glayout[-1, 4], Dlayout[-1, 4]  # where each network's output lives
    stats[:] = 0.0
    for step in range(z_d.shape[0]):
        _affine_transposed(_view(Gh, 0, nz, m), z_d[step], units[0])
        _forward(Gp, Glayout, Gact, Galpha, Gh, m)
        _affine_into(x_fake, _view(Gh, g_out, nx, m), units[1])
        # One pass of D on the 2m columns [x, G(z)] (D is rowwise), each half's loss on its own.
        x_both = _view(Dh, 0, nx, 2 * m)
        _affine_transposed(x_both[:, :m], x_d[step], units[2])
        _affine_into(x_both[:, m:], x_fake, units[2])
        _forward(Dp, Dlayout, Dact, Dalpha, Dh, 2 * m)
        a, da = _view(Dh, d_out, 2 * m, 1), _view(Ddh, d_out, 2 * m, 1)
        for half, lo in ((0, 0), (1, m)):
            stats[0] += sigmoid_cross_entropy_nb(
                a[lo : lo + m], targets[half], 1.0, da[lo : lo + m]
            )
            stats[1 + half] += _mean_sigmoid(da[lo : lo + m], targets[half])
        _backward(Dp, Dg, Dlayout, Dact, Dalpha, Dh, Ddh, 2 * m, True, False)
        sgd_momentum_nb(Dp, Dg, Dv, lr_d[step], mu_d[step], True)  # Dg = 0 after
    _affine_transposed(_view(Gh, 0, nz, m), z_g, units[0])
    _forward(Gp, Glayout, Gact, Galpha, Gh, m)
    _affine_into(x_fake, _view(Gh, g_out, nx, m), units[1])
    _affine_into(_view(Dh, 0, nx, m), x_fake, units[2])
    _forward(Dp, Dlayout, Dact, Dalpha, Dh, m)
    a, da = _view(Dh, d_out, m, 1), _view(Ddh, d_out, m, 1)
    stats[3] = sigmoid_cross_entropy_nb(a, targets[2], g_scale, da)
    _backward(Dp, Dg, Dlayout, Dact, Dalpha, Dh, Ddh, m, False, True)  # dx only
    dx, dg = _view(Ddh, 0, nx, m), _view(Gdh, g_out, nx, m)
    for j in range(nx):  # back through D's input Affine, then G's output Affine
        for i in range(m):
            dg[j, i] = (dx[j, i] * units[2, 0]) * units[1, 0]
    _backward(Gp, Gg, Glayout, Gact, Galpha, Gh, Gdh, m, True, False)
    sgd_momentum_nb(Gp, Gg, Gv, lr_g, mu_g, True)


@jit
def _noise_into(rng, z, kind, low, high):
    """z = a noise minibatch drawn with the run's Generator, as the Python prior draws it:
    kind 0: rng.uniform(low, high, z.shape); kind 1: rng.normal(0, high, z.shape); cast to
    z's dtype."""
    if kind == 0:
        v = rng.uniform(low, high, z.shape)
    else:
        v = rng.normal(0.0, high, z.shape)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            z[i, j] = v[i, j]


@structref.register
class _GeneratorRefType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(kind)) for name, kind in fields)


class GeneratorRef(structref.StructRefProxy):
    """A numpy Generator held in a Numba struct, for a jitted call made every iteration.

    Numba can take the Generator itself, but rebuilds its view of the bit generator on every
    call (three ctypes casts: about 7 us, more than an iteration's draws cost); this struct is
    handed over as a pointer.  Draws through ``ref.rng`` advance the Generator's own state,
    so the run's numbers are the same either way.  Made by ``_hold``."""


structref.define_proxy(GeneratorRef, _GeneratorRefType, ["rng"])


@jit
def _hold(rng):
    """GeneratorRef(rng), built in a cached jitted function (the proxy's own constructor would
    be compiled again in every process)."""
    return GeneratorRef(rng)


@jit
def _draw(ref, z_d, x_d, z_g, x, kind, low, high):
    """One iteration's minibatches, in Algorithm 1's order and with the calls the Python path
    makes (UniformNoise/GaussianNoise.sample, ArrayData.sample): per D step the noise, then
    rows of x at rng.integers(0, N, m); then the G step's noise.  Numba's Generator methods
    draw the numbers NumPy's do from the same state (tests/gan/test_fused.py compares the runs
    and the Generator's state after both paths).  ref: a GeneratorRef of the run's Generator."""
    rng, n = ref.rng, x.shape[0]
    for step in range(z_d.shape[0]):
        _noise_into(rng, z_d[step], kind, low, high)
        rows = rng.integers(0, n, z_d.shape[1])
        for i in range(rows.shape[0]):
            for j in range(x.shape[1]):
                x_d[step, i, j] = x[rows[i], j]
    _noise_into(rng, z_g, kind, low, high)


class FusedStep:
    """The compiled plan of one GAN: its flat arrays, layouts and preallocated buffers."""

    def __init__(self, gan, opt_g: SGD, opt_d: SGD, batch_size: int, k: int, objective) -> None:
        m, dtype = batch_size, gan.dtype
        t_real, t_fake, t_g, self.g_scale = objective.fused_targets()
        self.targets = np.empty((3, m, 1), dtype=dtype)
        self.targets[0], self.targets[1], self.targets[2] = t_real, t_fake, t_g
        self.opt_g, self.opt_d, self.k = opt_g, opt_d, k
        self.nets = []
        (_, g_in, g_out), (_, d_in, _) = _units(gan.G, end=True), _units(gan.D, end=False)
        self.units = np.array([g_in, g_out, d_in], dtype=dtype)
        for net, opt, end in ((gan.G, opt_g, True), (gan.D, opt_d, False)):
            plan = _encode(net, end=end)
            opt._bind(net)  # creates the velocity the layer path would use
            widths = [plan[0][0].in_features] + [d.out_features for d, _, _ in plan]
            rows = m if end else 2 * m  # D's D-step pass runs on [x; G(z)]
            off_h = np.concatenate([[0], np.cumsum([rows * w for w in widths])])
            layout = np.zeros((len(plan) + 1, 5), dtype=np.int64)
            for i, (dense, _, _) in enumerate(plan):
                layout[i, :4] = (
                    dense.in_features,
                    dense.out_features,
                    net.offset_of(dense.params["W"]),
                    net.offset_of(dense.params["b"]),
                )
            layout[:, 4] = off_h[:-1]
            layout[-1, 0] = widths[-1]
            self.nets.append(
                (
                    net.flat_params,
                    net.flat_grads,
                    opt.state["velocity"],
                    layout,
                    np.array([c for _, c, _ in plan], dtype=np.int64),
                    np.array([a for _, _, a in plan], dtype=dtype),
                    np.zeros(off_h[-1], dtype=dtype),
                    np.zeros(off_h[-1], dtype=dtype),
                )
            )
        self.z_d = np.zeros((k, m, self.nets[0][3][0, 0]), dtype=dtype)
        self.z_g = np.zeros((m, self.nets[0][3][0, 0]), dtype=dtype)
        self.x_d = np.zeros((k, m, self.nets[1][3][0, 0]), dtype=dtype)
        # lr and momentum in the parameters' precision, as the layer path's SGD.step passes
        # them (kernels/optim.py, _scalars): float64 scalars would make the update float64.
        self.lr_d, self.mu_d = np.zeros(k, dtype=dtype), np.zeros(k, dtype=dtype)
        self.scalar = np.dtype(dtype).type
        self.stats = np.zeros(4)
        self.x_fake = np.zeros((self.nets[1][3][0, 0], m), dtype=dtype)
        self._held = None  # (Generator, its GeneratorRef)

    def draw(self, rng: np.random.Generator, x: np.ndarray, noise) -> np.ndarray:
        """Draw the iteration's minibatches into ``z_d``, ``x_d`` and ``z_g`` in one jitted
        call: the same numbers in the same order as the Python path, without its three
        Python-level Generator calls.  x: an ArrayData's rows; noise: (kind, low, high) of a
        UniformNoise (kind 0) or GaussianNoise (kind 1, std = high).  Returns z_g."""
        if self._held is None or self._held[0] is not rng:  # once per Generator object
            self._held = (rng, _hold(rng))
        kind, low, high = noise
        _draw(self._held[1], self.z_d, self.x_d, self.z_g, x, kind, low, high)
        return self.z_g

    def run(self, z_g: np.ndarray) -> np.ndarray:
        """One iteration on the minibatches already copied into ``z_d``/``x_d``, and z_g.
        G's and D's gradients must be zero on entry (Trainer.step sees to it); they are zero
        on exit, so calls in a row need nothing between them."""
        opt_d, opt_g = self.opt_d, self.opt_g
        for i in range(self.k):
            self.lr_d[i] = opt_d._value("lr", opt_d.t + i)
            self.mu_d[i] = opt_d._value("momentum", opt_d.t + i)
        G, D = self.nets
        _iteration(
            G,
            D,
            self.z_d,
            self.x_d,
            z_g,
            self.lr_d,
            self.mu_d,
            self.scalar(opt_g._value("lr", opt_g.t)),
            self.scalar(opt_g._value("momentum", opt_g.t)),
            self.targets,
            self.g_scale,
            self.stats,
            self.units,
            self.x_fake,
        )
        opt_d.t += self.k
        opt_g.t += 1
        return self.stats
