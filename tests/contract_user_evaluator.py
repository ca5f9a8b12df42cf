"""A user's evaluator as tests/test_contracts.py runs it (named by file reference, as a user would)."""
import torch

import archscout


@archscout.evaluator(measures={"accuracy": "max", "my_loss": "min"})
def short_training(model, ctx):
    X, y = torch.as_tensor(ctx.task.train.X), torch.as_tensor(ctx.task.train.y)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(ctx.task.valid.X))
    return {"accuracy": float((out.argmax(1).numpy() == ctx.task.valid.y).mean()),
            "my_loss": float(torch.nn.functional.cross_entropy(out, torch.as_tensor(ctx.task.valid.y)))}


class IgnoresCostCheck(archscout.evaluate.Evaluator):
    """Breaks one promise on purpose: it never calls ``cost_check`` (tests/test_contracts.py shows it is caught)."""

    measures = ("accuracy",)

    def evaluate(self, arch, seed=0, cost_check=None, guard=None, fidelity=None):
        if fidelity:
            self.check_fidelity(fidelity)
        return archscout.evaluate.Evaluation({"accuracy": 0.5})
