"""Cell dipoles of BaTiO3: Born-effective-charge labels (:mod:`.born_charges`) and the
equivariant λ-SOAP linear model that learns them (:mod:`.model`)."""


class DipoleDataError(ValueError):
    """Structures or labels the dipole code cannot use (the CLI reports it in one line)."""
