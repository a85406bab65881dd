"""The patient-sharing network, care density and the care teams that really exist.

* :func:`sharing_network` (:mod:`.edges`): clinician pairs and the patients
  they share, optionally within a number of days and with the direction;
* :func:`care_density` and :func:`fragmented_care_density` (:mod:`.density`):
  how closely each patient's clinicians work together (Pollack et al. 2013,
  Engels et al. 2024);
* :func:`care_teams` (:mod:`.teams`): Leiden communities of the network,
  compared with the recorded practices, and the clinicians who bridge them;
* :mod:`.export`: the shareable edge list (pairs under 11 patients left out,
  clinicians pseudonymised) and GraphML.

Definitions: docs/definitions.md, *Sharing network and care density*.
"""

from carethread.measures.network.density import care_density, fragmented_care_density
from carethread.measures.network.edges import sharing_network
from carethread.measures.network.teams import CareTeams, care_teams

__all__ = ["CareTeams", "care_density", "care_teams", "fragmented_care_density", "sharing_network"]
