"""Write optimizer_reference.json: parameter trajectories computed by PyTorch's optimizers.

The optimizer tests compare NetLite's updates with these values, so the
reference comes from an implementation written by other people. Regenerate
with a Python that has torch installed (it is not a NetLite dependency):

    python tests/reference/make_optimizer_reference.py

torch.optim.SGD with momentum (dampening 0, no Nesterov) is the classical
momentum that OptimizerMomentum implements, and torch.optim.Adam implements
Algorithm 1 of Kingma and Ba (2015), like OptimizerADAM.
"""

import json
from pathlib import Path

import numpy as np
import torch

N_STEPS = 5


def make_case(seed):
    """Return a start parameter and one gradient per step, all float64."""
    rng = np.random.default_rng(seed)
    start = rng.standard_normal((3, 4))
    gradients = [rng.standard_normal((3, 4)) * (10.0 ** rng.integers(-3, 2)) for _ in range(N_STEPS)]
    return start, gradients


def run_torch(optimizer_class, settings, start, gradients):
    param = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([param], **settings)
    trajectory = []
    for gradient in gradients:
        param.grad = torch.tensor(gradient, dtype=torch.float64)
        optimizer.step()
        trajectory.append(param.detach().numpy().copy().tolist())
    return trajectory


def main():
    cases = []
    configurations = [
        ("OptimizerSGD", {"learning_rate": 0.1}, torch.optim.SGD, {"lr": 0.1}),
        ("OptimizerMomentum", {"learning_rate": 0.05, "beta": 0.9}, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
        ("OptimizerMomentum", {"learning_rate": 0.2, "beta": 0.5}, torch.optim.SGD, {"lr": 0.2, "momentum": 0.5}),
        (
            "OptimizerADAM",
            {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
            torch.optim.Adam,
            {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8},
        ),
        (
            "OptimizerADAM",
            {"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.9, "eps": 1e-3},
            torch.optim.Adam,
            {"lr": 0.1, "betas": (0.5, 0.9), "eps": 1e-3},
        ),
    ]
    for seed, (name, netlite_settings, torch_class, torch_settings) in enumerate(configurations):
        start, gradients = make_case(seed)
        cases.append(
            {
                "optimizer": name,
                "settings": netlite_settings,
                "start": start.tolist(),
                "gradients": [gradient.tolist() for gradient in gradients],
                "expected": run_torch(torch_class, torch_settings, start, gradients),
            }
        )
    output = {"generator": f"torch {torch.__version__}", "cases": cases}
    path = Path(__file__).with_name("optimizer_reference.json")
    path.write_text(json.dumps(output, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
