exit 1
--- stdout
--- stderr
dtypes.net:7:18: error[dtype]: Embedding needs integer ids (int64 or int32), received float32
 7 |     a = feats -> Embedding(100, 4)             # error: dtype
   |                  ^^^^^^^^^^^^^^^^^
   = note: feats is float32[batch, 8] (line 3)
   = help: declare the input as `long[...]`, or use Linear for float features

dtypes.net:8:16: error[dtype]: Linear needs a floating-point input, received int64
 8 |     b = ids -> Linear(4)                       # error: dtype
   |                ^^^^^^^^^
   = note: ids is int64[batch, 8] (line 4)
   = help: integer ids go through `Embedding` first

dtypes.net:9:9: error[dtype]: cat needs one dtype: tensor 1 is int64, tensor 0 is float32
 9 |     c = cat(feats, ids, dim=1)                 # error: dtype
   |         ^^^^^^^^^^^^^^^^^^^^^^
   = help: convert the tensors to one dtype first

dtypes.net:10:9: error[dtype]: add needs one dtype: float32 and bool
 10 |     d = add(feats, mask)                       # error: dtype
    |         ^^^^^^^^^^^^^^^^
    = help: convert one of them first

dtypes.net:15:14: error[dtype]: unknown dtype `flaot`
 15 |     input x: flaot[batch, 8]                   # error: dtype
    |              ^^^^^
    = help: did you mean `float` or `float64` or `float32`?

dtypes.net: 5 error(s); nothing written
