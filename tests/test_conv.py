"""Convolutional networks: conv2d, pooling and normalisation ops, their modules, the cnn preset.

Forward values are checked against plain-loop numpy references written from the
definitions (no im2col), gradients by float64 finite differences (first and second
order, and forward mode) over hypothesis-drawn shapes, strides, paddings, dilations
and groups, and everything against PyTorch (where installed) in a table.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import nn
from tinygrad_mlp.ops import conv as C

# ----- references written from the definitions -------------------------------------------


def conv_reference(x, w, b, stride, pads, dilation, groups):
    """y[n, o, i, j] = Σ_{c in o's group, p, q} w[o, c, p, q] · xpad[n, c, i·s + p·d, j·s + q·d]."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    t, bot, left, r = pads
    xp = np.pad(x, ((0, 0), (0, 0), (t, bot), (left, r)))
    oh = (h + t + bot - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + left + r - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for k in range(o):
        g = k // og
        for i, j in itertools.product(range(oh), range(ow)):
            patch = xp[:, g * cg:(g + 1) * cg,
                       i * stride[0]: i * stride[0] + dilation[0] * (kh - 1) + 1: dilation[0],
                       j * stride[1]: j * stride[1] + dilation[1] * (kw - 1) + 1: dilation[1]]
            y[:, k, i, j] = (patch * w[k]).sum(axis=(1, 2, 3))
    return y if b is None else y + b[None, :, None, None]


def pool_reference(x, k, s, p, fn, pad_value):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value)
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    y = np.empty((n, c, oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        y[:, :, i, j] = fn(xp[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return y


# ----- hypothesis: drawn convolution configurations -----------------------------------------


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from([0, 1, (1, 0), "valid", "same"]))
    if padding == "same":
        stride = (1, 1)
    h, w = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    n = draw(st.integers(1, 2))
    try:
        pads = C.conv_geometry((n, cg * groups, h, w), (og * groups, cg, kh, kw), stride,
                               padding, dilation, groups).pads
    except ValueError:  # the kernel does not fit: not a case
        assume(False)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal((n, cg * groups, h, w))
    wt = rng.standard_normal((og * groups, cg, kh, kw))
    b = rng.standard_normal(og * groups) if draw(st.booleans()) else None
    return x, wt, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups), \
        pads


def _conv_fn(opts):
    return lambda x, w, *b: F.conv2d(x, w, b[0] if b else None, **opts)


def _leaves(*arrays):
    return [tg.Tensor(a, requires_grad=True) for a in arrays if a is not None]


@given(conv_cases())
def test_conv2d_forward_matches_the_definition(case):
    x, w, b, opts, pads = case
    y = F.conv2d(x, w, b, **opts)
    stride = opts["stride"]
    dilation = opts["dilation"]
    expect = conv_reference(x, w, b, stride, pads, dilation, opts["groups"])
    assert y.shape == expect.shape
    np.testing.assert_allclose(y.data, expect, rtol=1e-12, atol=1e-12)


@given(conv_cases())
def test_conv2d_gradients_first_second_order_and_forward_mode(case):
    x, w, b, opts, _ = case
    inputs = _leaves(x, w, b)
    fn = _conv_fn(opts)
    assert tg.gradcheck(fn, inputs, check_forward_ad=True)
    assert tg.gradgradcheck(fn, inputs, fast_mode=True)


@st.composite
def pool_cases(draw):
    k = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    d = draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    assume(h + 2 * p >= d * (k - 1) + 1 and w + 2 * p >= d * (k - 1) + 1)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # distinct values: max-pooling has no ties (kinks) for finite differences to trip on
    x = rng.permutation(2 * 3 * h * w).reshape(2, 3, h, w) / 7.0 - 1.0
    return x, k, s, p, d


@given(pool_cases())
def test_max_pool2d_matches_the_definition_and_gradchecks(case):
    x, k, s, p, d = case
    y = F.max_pool2d(x, k, s, p, dilation=d)
    assume(np.isfinite(y.data).all())  # no window wholly in the padding (see the next test)
    if d == 1:
        np.testing.assert_array_equal(y.data, pool_reference(x, k, s, p, np.max, -np.inf))
    t = _leaves(x)
    assert tg.gradcheck(lambda a: F.max_pool2d(a, k, s, p, dilation=d), t, check_forward_ad=True)
    assert tg.gradgradcheck(lambda a: F.max_pool2d(a, k, s, p, dilation=d), t)


@given(pool_cases(), st.booleans())
def test_avg_pool2d_matches_the_definition_and_gradchecks(case, count_pad):
    x, k, s, p, _ = case
    y = F.avg_pool2d(x, k, s, p, count_include_pad=count_pad)
    total = pool_reference(x, k, s, p, np.sum, 0.0)
    count = pool_reference(np.ones_like(x), k, s, p, np.sum, 0.0) if not count_pad else k * k
    np.testing.assert_allclose(y.data, total / count, rtol=1e-12, atol=1e-14)
    t = _leaves(x)
    fn = lambda a: F.avg_pool2d(a, k, s, p, count_include_pad=count_pad)  # noqa: E731
    assert tg.gradcheck(fn, t, check_forward_ad=True)
    assert tg.gradgradcheck(fn, t)


def test_a_window_wholly_in_the_padding_gives_minus_infinity_and_no_gradient():
    x = tg.Tensor(np.array([[[[2.0]]]]), requires_grad=True)  # as torch.max_pool2d
    y = F.max_pool2d(x, 2, 1, 1, dilation=2)  # taps at −1 and +1: both padding
    assert y.shape == (1, 1, 1, 1) and y.data[0, 0, 0, 0] == -np.inf
    y.sum().backward()
    assert x.grad.data[0, 0, 0, 0] == 0.0
    z = tg.Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), requires_grad=True)
    (t,) = tg.grad(F.max_pool2d(z, 3, 1, 1).sum(), z)  # 4 padded windows, each sees all 4
    np.testing.assert_array_equal(t.data[0, 0], [[0, 0], [0, 4]])


def test_ceil_mode_adds_the_last_partial_window_as_torch():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    y = F.max_pool2d(x, 2, ceil_mode=True)  # windows start at 0, 2, 4: the last one is 1 wide
    np.testing.assert_array_equal(y.data[0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    a = F.avg_pool2d(x, 2, ceil_mode=True)  # the partial windows average what they cover
    np.testing.assert_allclose(a.data[0, 0, 2], [20.5, 22.5, 24.0])
    # rounding up gives ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the 4th would start in the
    # right padding: dropped, as torch
    assert F.max_pool2d(np.zeros((1, 1, 5, 5)), 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)


def test_max_pool_ties_send_the_whole_gradient_to_the_first_maximum():
    x = tg.Tensor(np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]]),
                  requires_grad=True)
    F.max_pool2d(x, 2, 1).sum().backward()
    # four overlapping windows each see several tied ones and pick the first in row-major
    # order: (0,0), (0,1), (1,0), (1,1); an even split would give (1,1) a quarter from each
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    y = tg.Tensor(np.ones((1, 1, 2, 4)), requires_grad=True)
    F.max_pool2d(y, 2).sum().backward()  # non-overlapping windows: one winner each
    np.testing.assert_array_equal(y.grad.data[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0]])


def test_second_order_of_a_conv_net_against_finite_differences():
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((2, 2, 6, 6)), requires_grad=True)
    w1 = tg.Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    w2 = tg.Tensor(rng.standard_normal((2, 3, 2, 2)), requires_grad=True)

    def net(x, w1, w2):
        h = F.conv2d(x, w1, padding=1).tanh()
        h = F.max_pool2d(h, 2)
        return F.avg_pool2d(F.conv2d(h, w2, stride=1, dilation=1), 2, 1)

    assert tg.gradgradcheck(net, [x, w1, w2])


def test_input_gradient_of_a_big_batch_is_each_images_own():
    """Large batches are worked through a few images at a time: nothing may leak between."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((40, 8, 12, 12)), rng.standard_normal((6, 4, 5, 5))
    g = rng.standard_normal((40, 6, 12, 12))  # 40 × 230 kB of columns: several chunks
    whole = C.ConvInputGrad.apply(tg.Tensor(g), tg.Tensor(w),
                                  geom=C.conv_geometry(x.shape, w.shape, 1, 2, 1, 2)).data
    one = C.conv_geometry((1, 8, 12, 12), w.shape, 1, 2, 1, 2)
    for i in (0, 17, 39):
        alone = C.ConvInputGrad.apply(tg.Tensor(g[i:i + 1]), tg.Tensor(w), geom=one).data
        np.testing.assert_allclose(whole[i:i + 1], alone, rtol=1e-12, atol=1e-12)


def test_bad_arguments_name_the_culprit():
    x = np.zeros((1, 3, 5, 5))
    with pytest.raises(ValueError, match="4 channels.*expects 6"):
        F.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((2, 3, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="4-D input"):
        F.conv2d(np.zeros((3, 5, 5)), np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        F.conv2d(x, np.zeros((2, 3, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv2d(x, np.zeros((2, 3, 7, 7)))
    with pytest.raises(ValueError, match="padding must be an int"):
        F.conv2d(x, np.zeros((2, 3, 3, 3)), padding="full")
    with pytest.raises(ValueError, match="bias has shape"):
        F.conv2d(x, np.zeros((2, 3, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="at most half of kernel"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        F.avg_pool2d(x, 2, stride=0)


# ----- normalisation ------------------------------------------------------------------------


def test_batch_norm_training_normalises_and_updates_running_stats():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (8, 3, 2, 2))
    mean, var = np.zeros(3), np.ones(3)
    y = F.batch_norm(x, mean, var, training=True, momentum=0.25)
    bm, bv = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    expect = (x - bm[None, :, None, None]) / np.sqrt(bv[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y.data, expect, rtol=1e-10)
    np.testing.assert_allclose(mean, 0.25 * bm)
    np.testing.assert_allclose(var, 0.75 + 0.25 * x.var(axis=(0, 2, 3), ddof=1))
    ye = F.batch_norm(x, mean, var, training=False)
    np.testing.assert_allclose(ye.data, (x - mean[None, :, None, None])
                               / np.sqrt(var[None, :, None, None] + 1e-5))


@given(st.integers(0, 2**16), st.sampled_from([(4, 3), (3, 2, 2), (2, 2, 2, 3)]),
       st.booleans())
def test_norm_gradients_first_and_second_order(seed, shape, training):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    c = shape[1]
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    inputs = _leaves(x, w, b)

    def bn(x, w, b):
        return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training)

    assert tg.gradcheck(bn, inputs, check_forward_ad=True)
    assert tg.gradgradcheck(bn, inputs, fast_mode=True)
    last = shape[-2:]
    lw, lb = rng.standard_normal(last), rng.standard_normal(last)

    def ln(x, w, b):
        return F.layer_norm(x, last, w, b)

    assert tg.gradcheck(ln, _leaves(x, lw, lb), check_forward_ad=True)
    assert tg.gradgradcheck(ln, _leaves(x, lw, lb), fast_mode=True)


def test_layer_norm_bad_shape_is_named():
    with pytest.raises(ValueError, match=r"normalized_shape \(3,\) must match"):
        F.layer_norm(np.zeros((2, 4)), 3)


# ----- modules ------------------------------------------------------------------------------


def test_batchnorm_module_state_dict_names_and_modes():
    bn = nn.BatchNorm2d(2, momentum=None)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, (4, 2, 3, 3)), rng.normal(-1.0, 1.0, (4, 2, 3, 3))
    bn(a.astype(np.float32))
    bn(b.astype(np.float32))
    # momentum=None: the plain average of the batches' statistics
    np.testing.assert_allclose(bn.running_mean.data, (a.mean((0, 2, 3)) + b.mean((0, 2, 3))) / 2,
                               rtol=1e-5)
    assert int(bn.num_batches_tracked.data) == 2
    bn.eval()
    before = bn.running_mean.data.copy()
    out = bn(a.astype(np.float32))
    np.testing.assert_array_equal(bn.running_mean.data, before)
    assert int(bn.num_batches_tracked.data) == 2
    expect = (a - before[None, :, None, None]) / np.sqrt(bn.running_var.data[None, :, None, None]
                                                         + 1e-5)
    np.testing.assert_allclose(out.data, expect, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="expected 4-D input"):
        bn(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        nn.BatchNorm1d(2)(np.zeros((4, 3), np.float32))


def test_modules_shapes_and_reprs():
    rng = np.random.default_rng(0)
    net = nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 4, 3, padding="same"), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1, groups=2, bias=False), nn.AvgPool2d(2),
        nn.Flatten(), nn.LayerNorm(16), nn.Linear(16, 3))
    out = net(rng.standard_normal((5, 64)).astype(np.float32))
    assert out.shape == (5, 3)
    F.cross_entropy(out, np.array([0, 1, 2, 0, 1])).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    assert net[1].weight.shape == (4, 1, 3, 3) and net[5].weight.shape == (4, 2, 3, 3)
    assert "groups=2" in repr(net) and "bias=False" in repr(net)
    with pytest.raises(ValueError, match="cannot split dimension 1 of size 10"):
        nn.Unflatten(1, (3, 3))(np.zeros((2, 10), np.float32))
    with pytest.raises(ValueError, match="divisible by groups=2"):
        nn.Conv2d(3, 4, 3, groups=2)


# ----- the cnn preset: builds, trains a little, survives a checkpoint round trip ---------


def test_cnn_preset_trains_and_round_trips_a_checkpoint(data_dir, tmp_path):
    from tinygrad_mlp import data as D
    from tinygrad_mlp import train as T

    x, y, xt, yt = D.load_mnist(str(data_dir))
    cfg = T.config_from("cnn", epochs=1, conv=(4, 8), hidden=(16,))
    model, history = T.train(cfg, (x[:256], y[:256], xt[:100], yt[:100]), log=None,
                             progress=False)
    again, _ = T.train(cfg, (x[:256], y[:256], xt[:100], yt[:100]), log=None, progress=False)
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=k)  # seed-reproducible
    assert any(isinstance(m, nn.Conv2d) for m in model.modules())
    path = tmp_path / "cnn.npz"
    T.save_checkpoint(path, model, cfg, history)
    loaded, meta = T.load_checkpoint(path)
    assert meta["architecture"]["conv"] == [4, 8]
    np.testing.assert_array_equal(T.predict_batches(loaded, xt[:50]),
                                  T.predict_batches(model, xt[:50]))


@pytest.mark.parametrize("module", ["tinygrad_mlp.ops.conv", "tinygrad_mlp.ops.norm",
                                    "tinygrad_mlp.nn.conv"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    failed = attempted = 0
    for test in doctest.DocTestFinder().find(importlib.import_module(module)):
        result = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE).run(test)
        failed, attempted = failed + result.failed, attempted + result.attempted
    assert failed == 0 and attempted >= 3


# ----- PyTorch as the oracle: values, gradients and second-order gradients, in a table ----

# (id, tinygrad fn, torch fn name, kwargs, input shapes); inputs are drawn in float64
TORCH_CASES = [
    ("conv_basic", "conv2d", {}, [(2, 3, 6, 5), (4, 3, 3, 3), (4,)]),
    ("conv_stride_pad", "conv2d", dict(stride=2, padding=1), [(2, 2, 7, 6), (3, 2, 3, 2), (3,)]),
    ("conv_asym", "conv2d", dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
     [(1, 2, 7, 7), (2, 2, 3, 3), (2,)]),
    ("conv_groups", "conv2d", dict(groups=2, padding=1), [(2, 4, 5, 5), (6, 2, 3, 3), (6,)]),
    ("conv_depthwise", "conv2d", dict(groups=3), [(1, 3, 5, 4), (3, 1, 2, 2)]),
    ("conv_same_even", "conv2d", dict(padding="same"), [(1, 2, 5, 6), (2, 2, 2, 4), (2,)]),
    ("conv_same_dilated", "conv2d", dict(padding="same", dilation=2), [(1, 1, 6, 6),
                                                                        (2, 1, 3, 3)]),
    ("conv_valid", "conv2d", dict(padding="valid", stride=3), [(2, 1, 8, 8), (2, 1, 2, 2)]),
    ("conv_big_batch", "conv2d", dict(padding=2), [(40, 8, 12, 12), (4, 8, 5, 5), (4,)]),
    ("max_pool", "max_pool2d", dict(kernel_size=2), [(2, 3, 6, 7)]),
    ("max_pool_overlap", "max_pool2d", dict(kernel_size=3, stride=1, padding=1), [(1, 2, 5, 5)]),
    ("max_pool_dilated", "max_pool2d", dict(kernel_size=(2, 3), stride=(2, 1), dilation=2),
     [(1, 2, 7, 8)]),
    ("max_pool_ceil", "max_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
     [(1, 2, 6, 7)]),
    ("avg_pool", "avg_pool2d", dict(kernel_size=2), [(2, 3, 6, 7)]),
    ("avg_pool_ceil", "avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
     [(1, 2, 6, 7)]),
    ("avg_pool_ceil_nopad", "avg_pool2d", dict(kernel_size=2, stride=2, ceil_mode=True,
                                               count_include_pad=False), [(1, 2, 5, 7)]),
    ("avg_pool_pad", "avg_pool2d", dict(kernel_size=3, stride=2, padding=1), [(1, 2, 6, 5)]),
    ("avg_pool_nopad", "avg_pool2d", dict(kernel_size=3, stride=2, padding=1,
                                          count_include_pad=False), [(1, 2, 6, 5)]),
    ("avg_pool_div", "avg_pool2d", dict(kernel_size=2, divisor_override=3), [(1, 1, 4, 4)]),
    ("batch_norm_train", "batch_norm", dict(training=True), [(4, 3, 2, 2), (3,), (3,)]),
    ("batch_norm_1d", "batch_norm", dict(training=True), [(5, 3), (3,), (3,)]),
    ("batch_norm_eval", "batch_norm", dict(training=False), [(4, 3, 2, 2), (3,), (3,)]),
    ("layer_norm", "layer_norm", dict(normalized_shape=(2, 3)), [(4, 2, 3), (2, 3), (2, 3)]),
]


def _call(lib, name, kwargs, args, stats):
    if name == "batch_norm":
        x, w, b = args
        rm, rv = (lib(s.copy()) for s in stats)
        return lib.F.batch_norm(x, rm, rv, w, b, **kwargs)
    if name == "layer_norm":
        x, w, b = args
        return lib.F.layer_norm(x, kwargs["normalized_shape"], w, b)
    return getattr(lib.F, name)(*args, **kwargs)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_against_torch(case):
    torch = pytest.importorskip("torch")
    _, name, kwargs, shapes = case
    rng = np.random.default_rng(len(case[0]))
    # distinct values (a permutation) keep max-pooling away from ties
    arrays = [rng.permutation(int(np.prod(s))).reshape(s) / np.prod(s) * 4 - 2 + 0.1
              * rng.standard_normal(s) for s in shapes]
    stats = (rng.standard_normal(shapes[0][1]), rng.uniform(0.5, 2.0, shapes[0][1]))

    class TG:
        F = F

        def __new__(cls, a):
            return a

    class TH:
        F = torch.nn.functional

        def __new__(cls, a):
            return torch.tensor(a)

    ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = _call(TG, name, kwargs, ours, stats)
    t = _call(TH, name, kwargs, theirs, stats)
    np.testing.assert_allclose(y.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    gs = tg.grad(y, ours, grad_outputs=tg.Tensor(g), create_graph=True)
    ts = torch.autograd.grad(t, theirs, grad_outputs=torch.tensor(g), create_graph=True)
    for a, b in zip(gs, ts, strict=True):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    # second order: d/dinputs of Σ grad·v, v random
    vs = [rng.standard_normal(a.shape) for a in arrays]
    live = [(a, b, v) for a, b, v in zip(gs, ts, vs, strict=True) if b.requires_grad]
    s_ours = sum((a * v).sum() for a, _, v in live)
    s_theirs = sum((b * torch.tensor(v)).sum() for _, b, v in live)
    h_theirs = torch.autograd.grad(s_theirs, theirs, allow_unused=True)
    if not s_ours.requires_grad:  # linear in the inputs (pooling): no second derivative
        assert all(b is None or not b.any() for b in h_theirs)
        return
    h_ours = tg.grad(s_ours, ours, allow_unused=True)
    for a, b in zip(h_ours, h_theirs, strict=True):
        if b is None:
            assert a is None or not np.any(a.data)
        else:
            np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-9, atol=1e-11)


def test_cnn_benchmark_runs_and_its_numpy_floor_agrees_with_the_library():
    """benchmarks/cnn.py --quick: the hand-written floor computes the same losses."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "cnn.py"), "--quick",
                           "--threads", "1", "--configs", "F",
                           "--contenders", "tinygrad_mlp,numpy"],
                          capture_output=True, text=True, timeout=300, cwd=str(root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISMATCH" not in proc.stdout and "× numpy" in proc.stdout


def test_state_dicts_move_between_torch_and_tinygrad_mlp():
    torch = pytest.importorskip("torch")
    T = torch.nn

    def ours():
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.AvgPool2d(2), nn.Flatten(), nn.LayerNorm(16),
                             nn.BatchNorm1d(16), nn.Linear(16, 3))

    def theirs():
        return T.Sequential(T.Conv2d(2, 4, 3, padding=1), T.BatchNorm2d(4), T.ReLU(),
                            T.AvgPool2d(2), T.Flatten(), T.LayerNorm(16), T.BatchNorm1d(16),
                            T.Linear(16, 3))

    x = np.random.default_rng(0).standard_normal((6, 2, 4, 4)).astype(np.float32)
    src = theirs()
    src(torch.from_numpy(x))  # a training step: running statistics move, batches counted
    src.eval()
    state = {k: v.numpy() for k, v in src.state_dict().items()}
    ours_ = ours()
    assert list(ours_.state_dict()) == list(state)
    ours_.load_state_dict(state)
    ours_.eval()
    with torch.no_grad():
        expect = src(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours_(x).data, expect, rtol=1e-5, atol=1e-5)
    # one training forward each from the same start: the same running statistics
    a, b = ours(), theirs()
    a.load_state_dict({k: v.numpy() for k, v in b.state_dict().items()})
    a(x)
    b(torch.from_numpy(x))
    for k, v in b.state_dict().items():
        np.testing.assert_allclose(a.state_dict()[k], v.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    # and back: train ours one step, load into a fresh torch model, same outputs
    ours_.train()
    ours_(x)
    ours_.eval()
    back = theirs()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in ours_.state_dict().items()})
    back.eval()
    assert int(back[1].num_batches_tracked) == 2
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.from_numpy(x)).numpy(), ours_(x).data,
                                   rtol=1e-5, atol=1e-5)


def test_max_pool_indices_match_torch_ties_included():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (2, 3, 7, 6)).astype(np.float32)  # many ties
    for k, s, p, d, ceil in [(2, 2, 0, 1, False), (3, 1, 1, 1, False), (3, 2, 1, 2, True),
                             ((2, 3), (1, 2), (1, 1), 1, True)]:
        y, i = nn.MaxPool2d(k, s, p, d, return_indices=True, ceil_mode=ceil)(x)
        ty, ti = torch.nn.MaxPool2d(k, s, p, d, return_indices=True, ceil_mode=ceil)(
            torch.from_numpy(x))
        np.testing.assert_array_equal(y.data, ty.numpy())
        np.testing.assert_array_equal(i.data, ti.numpy())


def test_batch_norm_running_stats_update_under_jit_as_eagerly():
    """The update is an op on the tape, so tg.jit's replays move the statistics too."""
    from tinygrad_mlp import optim

    rng = np.random.default_rng(4)
    batches = [(rng.normal(2.0, 3.0, (8, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, 8))
               for _ in range(4)]
    runs = []
    for jitted in (False, True):
        tg.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, momentum=None), nn.ReLU(),
                            nn.Flatten(), nn.Linear(32, 3))
        opt = optim.SGD(net.parameters(), lr=0.1)
        step = tg.jit(lambda x, y: F.cross_entropy(net(x), y))  # noqa: B023
        for x, y in batches:
            opt.zero_grad()
            if jitted:
                step(x, y)
            else:
                F.cross_entropy(net(x), y).backward()
            opt.step()
        runs.append(net.state_dict())
    eager, replayed = runs
    assert int(replayed["1.num_batches_tracked"]) == 4
    for k in eager:
        np.testing.assert_allclose(replayed[k], eager[k], rtol=1e-6, atol=1e-7, err_msg=k)
    assert not np.allclose(eager["1.running_mean"], 0)  # they did move


@pytest.mark.slow
def test_cnn_preset_reaches_99_3_percent_on_real_mnist(request):
    """The issue's bar, end to end (about 5 minutes on 2 cores): run with ``-m slow``."""
    import os

    from tinygrad_mlp import data as D
    from tinygrad_mlp import train as T

    expr = request.config.getoption("markexpr") or ""
    if "slow" not in expr or "not slow" in expr:
        pytest.skip("trains the cnn preset for minutes: select it with -m slow")
    root = os.environ.get("TINYGRAD_MLP_DATA")
    if not root or not os.path.isdir(root):
        pytest.skip("needs $TINYGRAD_MLP_DATA pointing at the MNIST files")
    _, history = T.train(T.PRESETS["cnn"], D.load_mnist(root, download=False), log=None,
                         progress=False)
    assert history[-1]["test_accuracy"] >= 0.993
