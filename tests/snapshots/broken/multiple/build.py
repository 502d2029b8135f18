exit 1
--- stdout
--- stderr
multiple.net:14:33: error[shape]: Conv2d was given in_channels=3, but its input [batch, 32, 16, 16] has 32 in dim 1
 14 |     bad = feats -> Conv2d(8, 3, in_channels=3)                  # error: shape
    |                                 ^^^^^^^^^^^^^
    = note: dim 1 (32) comes from Block (line 13)
    = note: image is float32[batch, 3, 32, 32] (line 10)
    = note: MaxPool2d (line 13) makes it float32[batch, 32, 16, 16]
    = help: drop `in_channels=` and let netspec infer it, or fix the input

multiple.net:16:45: error[layout]: LSTM reads dim 0 as time (batch_first=false), but dim 0 is `batch`
 16 |     words = tokens -> Embedding(100, 16) -> LSTM(32)            # error: layout
    |                                             ^^^^^^^^
    = note: tokens is int64[batch, seq] (line 11)
    = note: Embedding (line 16) makes it float32[batch, seq, 16]
    = help: pass batch_first=true, or put `-> transpose(0, 1)` before the LSTM; if this is meant, add `# netspec: allow[layout]` to the line

multiple.net:19:40: error[unknown-layer]: unknown layer or network `Linaer`
 19 |     joined = cat(flat, last, dim=1) -> Linaer(classes)          # error: unknown-layer
    |                                        ^^^^^^
    = help: did you mean `Linear`?

multiple.net:20:34: error[size]: AvgPool2d leaves no output: input float32[batch, 8, 32, 32] is smaller than its window (64)
 20 |     small = image -> Block(8) -> AvgPool2d(64)                  # error: size
    |                                  ^^^^^^^^^^^^^
    = note: image is float32[batch, 3, 32, 32] (line 10)
    = note: Block (line 20) makes it float32[batch, 8, 32, 32]
    = help: remove the pooling, or use a smaller window

multiple.net:21:13: error[dtype]: add needs one dtype: float32 and int64
 21 |     mixed = add(flat, tokens)                                   # error: dtype
    |             ^^^^^^^^^^^^^^^^^
    = help: convert one of them first

multiple.net: 5 error(s); nothing written
