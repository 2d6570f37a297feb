package corpusgen

// The vocabularies are disjoint: no person name, project name or team name
// contains another entity's name, and no filler sentence contains any of
// them, a project code or a procedure code, so the ground truth counted while
// writing is exactly what an extractor should find.

var firstNames = []string{
	"Emily", "Julia", "Lina", "Rebecca", "Mateo", "Lars", "Irene", "Fiona", "Desmond", "Hannah",
	"Nora", "Connor", "Chidi", "Bruno", "Dmitri", "Deepa", "Valentina", "Aisha", "Tomas", "Priya",
	"Kenji", "Olga", "Samuel", "Ingrid", "Rafael", "Mei", "Omar", "Greta", "Yusuf", "Clara",
	"Henrik", "Amara", "Felix", "Sofia", "Arjun", "Leona", "Pavel", "Zofia", "Marcus", "Ines",
}

var lastNames = []string{
	"Rossi", "Łukasiewicz", "Farrell", "Reyes", "Öztürk", "Çelik", "Gallagher", "Pemberton", "O'Neill", "Bishop",
	"Ghosh", "Vasquez", "Matsumoto", "Nowak", "Ólafsdóttir", "Young", "Lindqvist", "Okafor", "Moreau", "Brennan",
	"Tanaka", "Kowalski", "Haddad", "Schreiber", "Alvarez", "Nakamura", "Fitzgerald", "Mensah", "Petrov", "Sandoval",
	"Whitfield", "Adeyemi", "Castellano", "Dubois", "Eriksen", "Horvath", "Iyer", "Jansen", "Kaur", "Laine",
}

var places = []string{
	"Highcliff", "Elmstead", "Northgate", "Riverside", "Ashford", "Kingsbridge", "Harbour Point", "Westmoor",
	"Stonebridge", "Larkfield", "Bramley", "Eastwick", "Fairhaven", "Greystone", "Millbrook", "Oakridge",
	"Redcliffe", "Silverdale", "Thornbury", "Willowmere",
}

var works = []string{
	"Ring Road Renewal", "Data Centre Replacement", "Water Treatment Upgrade", "Rail Depot Expansion",
	"Hospital Wing", "Bridge Refurbishment", "Substation Upgrade", "Flood Defence Scheme",
	"Tunnel Ventilation Retrofit", "Terminal Extension",
}

var teamPrefixes = []string{"Titan", "Meridian", "Vega", "Lumen", "Atlas", "Orion", "Cobalt", "Summit", "Harbor", "Polar"}

var teamFunctions = []string{
	"Scheduling", "Interfaces", "Estimating", "Design", "Controls", "Procurement", "Commissioning", "Quality",
}

var roles = []string{"Planner", "Cost engineer", "Lead, project controls", "Document controller", "Engineer", "Scheduler"}

var statuses = []string{"Active", "On hold", "Planning", "Closing"}

// procedures are (prefix, number) pairs; spellings vary in the text.
var procedures = [][2]string{
	{"AACE", "101"}, {"AACE", "17"}, {"AACE", "18"}, {"AACE", "29"}, {"AACE", "42"},
	{"ISO", "21500"}, {"ISO", "19650"}, {"ISO", "9001"}, {"ISO", "31000"}, {"ISO", "55000"},
	{"PMI", "100"}, {"PMI", "200"}, {"IEC", "61508"}, {"IEC", "62443"}, {"ASME", "31"},
	{"ASME", "15"}, {"API", "650"}, {"API", "1104"},
}

// fillers hold no entity, code or trigger phrase.
var fillers = []string{
	"The document register now lists every controlled drawing.",
	"The productivity rate for the steel erection was below the plan.",
	"The contractor submitted a revised three-week look-ahead.",
	"The cost breakdown structure was aligned with the new work packages.",
	"Progress on the civil works remains behind the baseline by roughly two weeks.",
	"Ground investigation results were shared with the design consultant.",
	"The baseline schedule was re-issued with the agreed logic changes.",
	"The steering board asked for a clearer view of forecast trends.",
	"Material deliveries arrived on time for the third week running.",
	"A value engineering proposal could save several weeks of work.",
	"The schedule performance index recovered after the weekend shifts.",
	"The remaining allowance for escalation was reviewed and kept unchanged.",
	"The inspection and test plan was accepted without comments.",
	"The schedule variance improved slightly compared with last week.",
	"Long-lead items remain the main source of schedule uncertainty.",
	"The commissioning sequence was agreed with the operator.",
	"Change requests are logged before any work starts on site.",
	"The risk workshop identified three new threats and one opportunity.",
	"The monthly dashboard will include earned value figures from now on.",
	"Weather delays were recorded against the contingency as agreed.",
	"The supplier confirmed the revised delivery window in writing.",
	"Quantities were re-measured after the design freeze.",
	"The lessons learned log was reviewed at the end of the meeting.",
	"Site access remains restricted during the crane lifts.",
	"The interface register lists every open coordination point.",
	"A second shift will be added if the trend does not improve.",
	"The procurement plan was updated to reflect the new tender dates.",
	"Contingency drawdown stays within the approved limits.",
	"The quality audit found no major nonconformities.",
	"Forecasts at completion were refreshed with the latest actuals.",
}

var personActions = []string{
	"%s presented the updated forecast.",
	"%s will circulate the revised schedule.",
	"%s joined the call from site.",
	"%s asked for the risk register to be refreshed.",
	"%s confirmed the figures after the meeting.",
	"%s raised a question about the interface dates.",
	"The action on the commitments report stays with %s.",
	"According to %s, the supplier is back on track.",
}

var projectActions = []string{
	"Progress on %s was reviewed against the baseline.",
	"The forecast for %s was updated with the latest actuals.",
	"%s remains within its approved budget.",
	"A change request for %s is awaiting approval.",
	"The risk register of %s was refreshed this week.",
}

var teamActions = []string{
	"%s reported no new issues.",
	"%s will take over the interface reviews.",
	"The next workshop is hosted by %s.",
	"%s updated the resource plan.",
}

var procedureActions = []string{
	"%s was used as the basis for the risk workshop.",
	"This note explains how %s is applied across the portfolio.",
	"Estimates follow %s for their classification.",
	"The review checked compliance with %s.",
}

// managesTriggers are the four trigger phrases: %[1]s is the person, %[2]s
// the project code.
var managesTriggers = []string{
	"%[1]s manages %[2]s.",
	"%[2]s is managed by %[1]s.",
	"With immediate effect, %[1]s is the project manager for %[2]s.",
	"As agreed at the last review, %[1]s leads %[2]s.",
}

var actionItems = []string{
	"Reconcile the commitments report", "Prepare the monthly dashboard", "Circulate the revised schedule",
	"Book the lessons learned workshop", "Issue the updated document register", "Confirm the crane lift plan",
}

var riskTitles = []string{
	"Late delivery of switchgear", "Ground conditions worse than assumed", "Key staff availability",
	"Permit approval delayed", "Design changes after freeze", "Escalation above allowance",
}
