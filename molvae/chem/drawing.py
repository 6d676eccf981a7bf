"""2-D depictions: SVG of one molecule, PNG grids of many.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rdkit import Chem

from molvae.chem.molecules import parse_smiles

# Presentation attributes equal to SVG's defaults, and RDKit's per-element class names (only
# useful for scripting the drawing): removing them halves the size of a structure drawing.
_SVG_REDUNDANT = re.compile(
    r" class='[^']*'|;fill-rule:evenodd|;stroke-linecap:butt|;stroke-linejoin:miter"
    r"|;stroke-opacity:1(?=[;'])"
)


def mol_to_svg(smiles: str, size: tuple[int, int] = (220, 170)) -> str | None:
    """A compact SVG drawing of one molecule (no XML header), ``None`` if the SMILES is invalid.

    Meant for embedding many structures in one HTML page (latent maps), where size matters: the
    XML prolog, comments, class names and default-valued style properties are dropped.
    """
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = parse_smiles(smiles)
    if mol is None:
        return None
    drawer = rdMolDraw2D.MolDraw2DSVG(int(size[0]), int(size[1]))
    try:
        rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    except Exception:  # RDKit cannot lay out a few exotic molecules
        return None
    drawer.FinishDrawing()
    text = drawer.GetDrawingText()
    text = re.sub(r"<\?xml[^>]*\?>|<!--.*?-->", "", text, flags=re.S)
    text = _SVG_REDUNDANT.sub("", text)
    return " ".join(text.split())


def grid_image(
    smiles: Sequence[str],
    legends: Sequence[str] | None = None,
    mols_per_row: int = 4,
    size: tuple[int, int] = (300, 250),
    svg: bool = False,
) -> bytes | str:
    """A grid drawing of molecules with legends: PNG bytes, or SVG text when ``svg`` is true.

    Uses RDKit ``Draw.MolsToGridImage`` (PNG needs Pillow). Unparsable SMILES are drawn empty
    so legends stay aligned with their molecules.
    """
    import io as _io

    from rdkit.Chem import Draw

    mols = [parse_smiles(s) or Chem.Mol() for s in smiles]
    legend_list = list(legends) if legends is not None else [""] * len(mols)
    image = Draw.MolsToGridImage(
        mols,
        molsPerRow=max(1, mols_per_row),
        subImgSize=size,
        legends=legend_list,
        useSVG=svg,
    )
    if svg:
        return str(image)
    if isinstance(image, bytes | bytearray):  # some RDKit builds return PNG data directly
        return bytes(image)
    buffer = _io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
