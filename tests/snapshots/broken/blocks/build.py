exit 1
--- stdout
--- stderr
blocks.net:11:16: error[unknown-layer]: unknown layer or network `Lineer`
 11 |     out = x -> Lineer(4)                                      # error: unknown-layer
    |                ^^^^^^
    = help: did you mean `Linear`?

blocks.net:19:16: error[shape]: `Head` does not check with these inputs: Linear was given in_features=512, but its input [batch, 256] has 256 in dim 1
 19 |     bad = b -> Head(10)                                       # error: shape
    |                ^^^^^^^^
    = note: in `Head` at blocks.net:5:32: Linear was given in_features=512, but its input [batch, 256] has 256 in dim 1
    = note: dim 1 (256) comes from input b (line 17)
    = note: x is float32[batch, 256] (line 4)
    = help: drop `in_features=` and let netspec infer it, or fix the input

blocks.net: 2 error(s); nothing written
