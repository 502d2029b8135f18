exit 1
--- stdout
--- stderr
size.net:6:16: error[size]: Conv2d leaves no output: input float32[batch, 3, 8, 8] is too small for kernel_size=9 (output size 0 in dim 2)
 6 |     a = img -> Conv2d(16, 9)                                  # error: size
   |                ^^^^^^^^^^^^^
   = note: img is float32[batch, 3, 8, 8] (line 3)
   = help: use a smaller kernel or stride, or pad the input

size.net:7:16: error[size]: MaxPool1d leaves no output: input float32[batch, 2, 5] is smaller than its window (6)
 7 |     b = sig -> MaxPool1d(6)                                   # error: size
   |                ^^^^^^^^^^^^
   = note: sig is float32[batch, 2, 5] (line 4)
   = help: remove the pooling, or use a smaller window

size.net:8:64: error[size]: Conv2d leaves no output: input float32[batch, 4, 2, 2] is too small for kernel_size=3 (output size 0 in dim 2)
 8 |     c = img -> Conv2d(4, 3) -> Conv2d(4, 3) -> Conv2d(4, 3) -> Conv2d(4, 3)   # error: size
   |                                                                ^^^^^^^^^^^^
   = note: img is float32[batch, 3, 8, 8] (line 3)
   = note: Conv2d (line 8) makes it float32[batch, 4, 2, 2]
   = help: use a smaller kernel or stride, or pad the input

size.net: 3 error(s); nothing written
