exit 1
--- stdout
--- stderr
layout.net:6:42: error[layout]: LSTM reads dim 0 as time (batch_first=false), but dim 0 is `batch`
 6 |     a = tokens -> Embedding(1000, 64) -> LSTM(128) -> Linear(2)     # error: layout
   |                                          ^^^^^^^^^
   = note: tokens is int64[batch, seq] (line 3)
   = note: Embedding (line 6) makes it float32[batch, seq, 64]
   = help: pass batch_first=true, or put `-> transpose(0, 1)` before the LSTM; if this is meant, add `# netspec: allow[layout]` to the line

layout.net:7:19: error[layout]: GRU reads dim 1 as time (batch_first=true), but dim 1 is `batch`
 7 |     b = frames -> GRU(32, batch_first=true)                          # error: layout
   |                   ^^^^^^^^^^^^^^^^^^^^^^^^^
   = note: frames is float32[seq, batch, 40] (line 4)
   = help: pass batch_first=false, or put `-> transpose(0, 1)` before the GRU; if this is meant, add `# netspec: allow[layout]` to the line

layout.net: 2 error(s); nothing written
