"""The PyTorch modules equivalent to libaecv's presets (their state_dict names are libaecv's
tensor names; tools/make_golden.py checks the conv, dense and vae ones against libaecv).
Shared by tools/bench_torch.py (speed) and tools/quality_bench.py (quality). Import it after
setting the thread environment variables: importing torch sizes its pools."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvAE(nn.Module):
    """The `conv` preset, 46529 parameters, 1x28x28 -> 64x4x4 -> 1x28x28."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=0), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1), nn.Sigmoid())

    def encode(self, x):
        return self.encoder(x)

    def reconstruct(self, x):
        return self.decoder(self.encoder(x))

    def loss(self, x):
        return F.mse_loss(self.decoder(self.encoder(x)), x)


class DenoisingConvAE(ConvAE):
    """The `denoising` preset (base conv): Gaussian noise 0.3, clipped to [0, 1], clean target."""

    def loss(self, x):
        noisy = (x + 0.3 * torch.randn_like(x)).clamp_(0.0, 1.0)
        return F.mse_loss(self.decoder(self.encoder(noisy)), x)


class DenseAE(nn.Module):
    """The `dense` preset, 784-256-64-256-784."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())

    def encode(self, x):
        return self.encoder(x.flatten(1))

    def reconstruct(self, x):
        return self.decoder(self.encoder(x.flatten(1))).view_as(x)

    def loss(self, x):
        x = x.flatten(1)
        return F.mse_loss(self.decoder(self.encoder(x)), x)


class SparseAE(DenseAE):
    """The `sparse` preset: dense + 1e-3 * mean |code| (L1 activity penalty, reduction mean)."""

    def loss(self, x):
        x = x.flatten(1)
        code = self.encoder(x)
        return F.mse_loss(self.decoder(code), x) + 1e-3 * code.abs().mean()


class SparseKLAE(DenseAE):
    """The `sparse` preset with KL sparsity: sigmoid code, beta * sum_j KL(rho || mean_n z_nj)
    (libaecv's "sparsity": {"kl": {"rho": 0.05, "beta": 3}})."""

    def __init__(self, rho=0.05, beta=3.0):
        super().__init__()
        self.encoder[3] = nn.Sigmoid()
        self.rho, self.beta = rho, beta

    def loss(self, x):
        x = x.flatten(1)
        code = self.encoder(x)
        rho_hat = code.mean(0).clamp(1e-6, 1 - 1e-6)
        rho = self.rho
        kl = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
        return F.mse_loss(self.decoder(code), x) + self.beta * kl


def vae_loss(logits, x, mu, logvar):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (recon + kl) / x.shape[0]


class VAE(nn.Module):
    """The `vae` preset, 784-400-(mu, logvar: 20)-400-784, Bernoulli decoder."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc_mu = nn.Linear(400, 20)
        self.fc_logvar = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        return self.fc_mu(F.relu(self.fc1(x.flatten(1))))

    def reconstruct(self, x):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(self.encode(x))))).view_as(x)

    def loss(self, x):
        x = x.flatten(1)
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return vae_loss(self.fc4(F.relu(self.fc3(z))), x, mu, logvar)


class ConvVAE(nn.Module):
    """The `conv_vae` preset: conv encoder + two Linear(1024, 20) heads; Linear(20, 1024) + ReLU +
    unflatten + mirrored ConvTranspose2d decoder producing logits; BCE-with-logits (sum) + KL."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
            nn.Flatten())
        self.fc_mu = nn.Linear(1024, 20)
        self.fc_logvar = nn.Linear(1024, 20)
        self.decoder_input = nn.Linear(20, 1024)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=0), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1))

    def decode_logits(self, z):
        return self.decoder(F.relu(self.decoder_input(z)).view(-1, 64, 4, 4))

    def encode(self, x):
        return self.fc_mu(self.encoder(x))

    def reconstruct(self, x):
        return torch.sigmoid(self.decode_logits(self.encode(x)))

    def loss(self, x):
        h = self.encoder(x)
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return vae_loss(self.decode_logits(z), x, mu, logvar)


MODELS = {"conv": ConvAE, "dense": DenseAE, "vae": VAE, "conv_vae": ConvVAE, "sparse": SparseAE,
          "denoising": DenoisingConvAE, "sparse_kl": SparseKLAE}

