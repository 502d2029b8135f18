exit 1
--- stdout
--- stderr
unknown_names.net:6:23: error[unknown-name]: no value named `hiden`
 6 |     enc = emb -> LSTM(hiden, batch_first=true)     # error: unknown-name
   |                       ^^^^^
   = help: did you mean `hidden`?

unknown_names.net:7:18: error[unknown-layer]: unknown layer or network `Linaer`
 7 |     bad = emb -> Linaer(4)                          # error: unknown-layer
   |                  ^^^^^^
   = help: did you mean `Linear`?

unknown_names.net:8:17: error[unknown-layer]: unknown op `transpos`
 8 |     op = emb -> transpos(0, 1)                      # error: unknown-layer
   |                 ^^^^^^^^
   = help: did you mean `transpose`?

unknown_names.net:9:12: error[unknown-attr]: `enc` has no result `hn`
 9 |     last = enc.hn -> select(0, -1)                  # error: unknown-attr
   |            ^^^^^^
   = note: `enc` has: `output`, `h_n`, `c_n`
   = help: did you mean `h_n`?

unknown_names.net:10:11: error[unknown-name]: no value named `embb`
 10 |     out = embb -> Linear(4)                         # error: unknown-name
    |           ^^^^
    = help: did you mean `emb`?

unknown_names.net: 5 error(s); nothing written
