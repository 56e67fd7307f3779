"""Where a sampling point outside the image reads, per fill mode, as
``ImageProjectiveTransformV3`` does.

Shared by the TensorFlow kernel (``_tf_kernels``) and the ``keras.ops``
reference (``_kernels``), so that both sample the same pixels: backends do
not agree on ``"wrap"`` (SciPy's ``map_coordinates``, which JAX follows,
wraps with another period than TensorFlow).
"""


def map_coordinate(o, c, n, fill_mode):
    """Coordinates ``c`` along an axis of ``n`` pixels, mapped back into ``[0, n - 1]``.

    Args:
        o: the ops namespace to compute with (``keras.ops``, or TensorFlow's
            inside a TensorFlow kernel); it needs ``floor``, ``where``,
            ``clip`` and ``zeros_like``.
        c: float tensor of coordinates.
        n: float scalar, the size of the axis.
        fill_mode: ``"constant"`` (unchanged: points outside read the fill
            value), ``"nearest"``, ``"reflect"`` (d c b a | a b c d | d c b a)
            or ``"wrap"`` (a b c d | a b c d | a b c d).
    """
    if fill_mode == "constant":
        return c
    if fill_mode == "nearest":
        return o.clip(c, 0.0, n - 1.0)
    if fill_mode == "reflect":
        period = 2.0 * n
        below = period * o.floor(-c / period) + c
        below = o.where(below < -n, below + period, -below - 1.0)
        above = c - period * o.floor(c / period)
        above = o.where(above >= n, period - above - 1.0, above)
    else:  # "wrap"
        size = o.maximum(n - 1.0, 1.0)
        below = c + n * (o.floor(-c / size) + 1.0)
        above = c - n * o.floor(c / size)
    c = o.where(c < 0.0, below, o.where(c > n - 1.0, above, c))
    c = o.where(n > 1.0, c, o.zeros_like(c))
    return o.clip(c, 0.0, n - 1.0)
