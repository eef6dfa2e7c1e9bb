"""The HMR network: encoder, iterative error-feedback regressor, discriminator."""
