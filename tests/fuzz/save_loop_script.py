"""Save two models in turn over one directory until killed: `python save_loop_script.py DIR`.

Prints "ready" once the first save is complete, so the killer knows a previous model exists.
"""

import sys

import torch

from rnnkit.tasks.synthetic import RecurrentRegressor

torch.set_num_threads(1)


def version(i: int) -> RecurrentRegressor:
    torch.manual_seed(i)
    return RecurrentRegressor("lstm", 1, 256, 1)  # ~1.1 MB of weights: a save takes a few ms


if __name__ == "__main__":
    path = sys.argv[1]
    models = [version(0), version(1)]
    models[0].save(path)
    print("ready", flush=True)
    i = 0
    while True:
        i ^= 1
        models[i].save(path)
