"""NMR chemical shieldings: reference values by GIAO on finite clusters cut from crystal
frames, and the auxiliary linear SOAP model that predicts them along trajectories."""
