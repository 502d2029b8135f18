exit 1
--- stdout
--- stderr
shapes.net:8:25: error[shape]: Linear was given in_features=7, but its input [batch, 10] has 10 in dim 1
 8 |     a = x -> Linear(16, in_features=7)                   # error: shape
   |                         ^^^^^^^^^^^^^
   = note: dim 1 (10) comes from input x (line 3)
   = note: x is float32[batch, 10] (line 3)
   = help: drop `in_features=` and let netspec infer it, or fix the input

shapes.net:9:44: error[shape]: BatchNorm2d was given num_features=6, but its input [batch, 8, 30, 30] has 8 in dim 1
 9 |     b = img -> Conv2d(8, 3) -> BatchNorm2d(num_features=6)   # error: shape
   |                                            ^^^^^^^^^^^^^^
   = note: dim 1 (8) comes from Conv2d (line 9)
   = note: img is float32[batch, 3, 32, 32] (line 5)
   = note: Conv2d (line 9) makes it float32[batch, 8, 30, 30]
   = help: drop `num_features=` and let netspec infer it, or fix the input

shapes.net:10:9: error[rank]: cat needs tensors with the same number of dims: tensor 1 is float32[batch, 3, 32, 32], tensor 0 is float32[batch, 10]
 10 |     c = cat(x, img, dim=1)                               # error: rank
    |         ^^^^^^^^^^^^^^^^^^

shapes.net:11:9: error[shape]: add cannot broadcast float32[batch, 10] with float32[batch, 12]: dim 1 is 10 and 12
 11 |     d = add(x, y)                                        # error: shape
    |         ^^^^^^^^^
    = note: dim 1 (10) comes from input x (line 3)
    = note: dim 1 (12) comes from input y (line 4)
    = help: sizes must match or be 1

shapes.net:12:25: error[shape]: reshape to [3, 4] needs 12 elements, but float32[4, 10] has 40
 12 |     e = grid -> reshape(3, 4)                            # error: shape
    |                         ^
    = note: grid is float32[4, 10] (line 6)
    = help: use -1 for the size netspec should infer

shapes.net:13:24: error[shape]: LayerNorm was given normalized_shape=12, but its input [batch, 10] has 10 in dim 1
 13 |     f = x -> LayerNorm(12)                               # error: shape
    |                        ^^
    = note: dim 1 (10) comes from input x (line 3)
    = note: x is float32[batch, 10] (line 3)
    = help: drop `normalized_shape=` and let netspec infer it, or fix the input

shapes.net:20:24: error[shape]: h0 of GRU must be float32[1, batch, 16], received float32[1, batch, 32]
 20 |     out = x -> GRU(16, h0=h)                             # error: shape
    |                        ^^^^
    = note: h is float32[1, batch, 32]
    = note: GRU needs [D * num_layers, batch, H_out] = float32[1, batch, 16]
    = help: the initial state is laid out [num_layers * directions, batch, hidden] whatever batch_first says

shapes.net: 7 error(s); nothing written
