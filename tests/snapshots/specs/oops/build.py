exit 1
--- stdout
--- stderr
oops.net:3:44: error[layout]: LSTM reads dim 0 as time (batch_first=false), but dim 0 is `batch`
 3 |     out = tokens -> Embedding(1000, 64) -> LSTM(128) -> Linear(2)
   |                                            ^^^^^^^^^
   = note: tokens is int64[batch, seq] (line 2)
   = note: Embedding (line 3) makes it float32[batch, seq, 64]
   = help: pass batch_first=true, or put `-> transpose(0, 1)` before the LSTM; if this is meant, add `# netspec: allow[layout]` to the line

oops.net: 1 error(s); nothing written
