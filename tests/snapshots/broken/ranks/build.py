exit 1
--- stdout
--- stderr
ranks.net:6:14: error[rank]: Conv2d takes a tensor with 3 or 4 dims, received 2: [batch, 8]
 6 |     a = x -> Conv2d(4, 3)                      # error: rank
   |              ^^^^^^^^^^^^
   = note: x is float32[batch, 8] (line 3)

ranks.net:7:27: error[rank]: MaxPool2d takes a tensor with 3 or 4 dims, received 2: [batch, 4]
 7 |     b = x -> Linear(4) -> MaxPool2d(2)         # error: rank
   |                           ^^^^^^^^^^^^
   = note: x is float32[batch, 8] (line 3)
   = note: Linear (line 7) makes it float32[batch, 4]

ranks.net:8:17: error[rank]: BatchNorm2d takes a tensor with 4 dims, received 3: [seq, batch, 8]
 8 |     c = seq3 -> BatchNorm2d                    # error: rank
   |                 ^^^^^^^^^^^
   = note: seq3 is float32[seq, batch, 8] (line 4)
   = help: BatchNorm2d takes [batch, channels, height, width]

ranks.net:9:27: error[rank]: transpose: dim 2 is out of range for a tensor with 2 dims (expected -2 to 1)
 9 |     d = x -> transpose(0, 2)                   # error: rank
   |                           ^

ranks.net:10:17: error[rank]: `Block` does not check with these inputs: input `v` of `Block` has 2 dims [batch, c], received 3: [seq, batch, 8]
 10 |     e = seq3 -> Block                          # error: rank
    |                 ^^^^^
    = note: in `Block` at ranks.net:15:14: input `v` of `Block` has 2 dims [batch, c], received 3: [seq, batch, 8]

ranks.net: 5 error(s); nothing written
