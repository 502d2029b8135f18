exit 1
--- stdout
--- stderr
values.net:6:14: error[value]: Dropout: dropout probability has to be between 0 and 1, but got 1.5
 6 |     a = x -> Dropout(1.5)                      # error: value
   |              ^^^^^^^^^^^^

values.net:7:29: error[value]: MaxPool2d: padding (3) should be at most half of the kernel size (2)
 7 |     b = img -> MaxPool2d(2, padding=3)         # error: value
   |                             ^^^^^^^^^

values.net:8:29: error[value]: Conv2d: in_channels (6) must be divisible by groups (4)
 8 |     c = img -> Conv2d(4, 3, groups=4)          # error: value
   |                             ^^^^^^^^

values.net:9:24: error[value]: permute: repeated dim in (0, 1, 1, 2)
 9 |     d = img -> permute(0, 1, 1, 2)             # error: value
   |                        ^

values.net:10:24: error[value]: select: index 8 is out of range for dim 1 of size 8
 10 |     e = x -> select(1, 8)                      # error: value
    |                        ^

values.net:11:21: error[value]: a stage is repeated 0 times; the count must be 1 to 10000
 11 |     f = x -> ReLU * 0                          # error: value
    |                     ^

values.net:12:24: error[value]: start_dim (2) comes after end_dim (1)
 12 |     g = img -> Flatten(2, 1)                   # error: value
    |                        ^

values.net:13:14: error[value]: LSTM: num_layers must be at least 1, received 0
 13 |     h = x -> LSTM(4, num_layers=0)             # error: value
    |              ^^^^^^^^^^^^^^^^^^^^^

values.net: 8 error(s); nothing written
