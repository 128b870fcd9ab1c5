# ruff: noqa: RUF001, RUF002 - Cyrillic letters are the subject matter here

"""Small vocabularies, per feature class and language, for instructions addressed to an agent.

Each entry is a regex fragment written in lower case, as a human writes the word (Cyrillic as
Cyrillic: `injection_agentic` rewrites each letter to what `normalize.fold` makes of it, since fold
turns Cyrillic look-alikes such as "а", "о", "р" into Latin letters). A space matches any run of
whitespace. Latin and Cyrillic entries are matched as whole words (a trailing `\\w*` makes a stem);
Chinese and Japanese entries are matched anywhere (no word boundaries in those scripts).

The classes (see `injection_agentic` for how they combine):

- AI: words for the assistant / AI / language model (a mention, the weak addressee);
- ADDRESSEE: the text speaking to that AI ("note for the AI", "assistant, ...", "the AI must");
- YOU: the reader told what it must do ("you must", "du musst");
- SEND: sending data somewhere (send, forward, upload, transfer money...);
- REVEAL: showing or telling something (reveal, print, show, output);
- ACT: other actions an agent takes (delete, run, call, open, ignore...);
- SENSITIVE: secrets and other things worth stealing (password, API key, card number);
- PROMPT: the agent's own instructions (system prompt, "your instructions");
- BULK: data in bulk (the inbox, all e-mails, contacts, the chat history);
- ROLE: a change of role or goal ("you are now", "your new task", "pretend", "developer mode");
- LIMITS: rules lifted ("without any restrictions");
- RESPOND: the reader's answers dictated ("answer only with", "réponds uniquement");
- SECRECY: hiding the action from the user, or acting before answering;
- QUIET: doing it quietly ("secretly", "silently": weaker, command-line manuals say it too);
- OVERRIDE: "ignore the previous instructions" (for the languages `injection_patterns` does not cover);
- TOOL: words for a tool or function (next to a snake_case tool name).
"""

from __future__ import annotations

(AI, ADDRESSEE, YOU, SEND, REVEAL, ACT, SENSITIVE, PROMPT, BULK, ROLE, LIMITS, RESPOND, SECRECY, QUIET, OVERRIDE,
 TOOL) = (
    "ai", "addressee", "you", "send", "reveal", "act", "sensitive", "prompt", "bulk", "role", "limits", "respond",
    "secrecy", "quiet", "override", "tool")

_DE = {
    AI: ("ki", r"ki-\w+", "künstliche intelligenz", "assistent(?:in|en)?", r"sprachmodell\w*", "chatbot"),
    ADDRESSEE: (r"(?:^|(?<=[\n.!?;:]\s{0,3}))(?:ki|ki-\w+|assistent\w*|sprachmodell)\s*[,:]",
                r"(?:wenn|während|bevor|sobald) du (?:diese[nrs]?|den|die|das) (?:\w+ )?(?:zusammenfasst|verarbeitest|"
                r"analysierst|auswertest)", r"du als (?:ki|ki-\w+|assistent\w*|sprachmodell\w*|agent\w*)",
                "(?:hinweis|nachricht|anweisung(?:en)?|notiz|mitteilung|info|achtung|wichtig|erinnerung|(?:nächster"
                " )?schritt|aufgabe) (?:für|an) (?:die |den "
                r"|das |alle |jede[ns]? )?(?:ki|ki-\w+|assistent\w*|sprachmodell\w*|agent\w*|modell\w*|bot\w*)",
                r"(?:liebe[rs]?|hallo|hey|hi) (?:ki|ki-\w+|assistent\w*)",
                r"(?:die |der )?(?:ki|ki-\w+|assistent\w*) (?:muss|soll|sollte|darf jetzt|müssen|sollen)",
                r"(?:als|du als) (?:ki|ki-\w+|assistent\w*|sprachmodell\w*),? (?:der|die|das) "
                r"(?:diese[nrs]?|den|die|das) (?:\w+ )?(?:liest|verarbeitest|zusammenfasst|bearbeitest)",
                r"wenn du (?:eine )?(?:ki|ki-\w+|sprachmodell|assistent\w*) bist"),
    YOU: ("du musst", "du sollst", "musst du", "sie müssen", "sie sollen", "müssen sie",
          "ich (?:möchte|will),? dass du"),
    SEND: ("sende[n]?", "schick(?:e|en)?", r"leite (?:[\w@.-]+ ){0,8}?weiter", "weiterleiten", "übermittle[n]?",
           r"lade (?:\S+ ){0,9}?hoch", "hochladen", r"exportier\w*", r"häng\w* (?:\S+ ){0,8}?an", "anhängen",
           "überweise[n]?", "veröffentliche[n]?", "poste"),
    ACT: (r"lösche\w*", r"entferne\w*", r"führe (?:\w+ ){0,5}aus", r"rufe (?:\w+ ){0,5}auf", r"besuche\w*", r"öffne\w*",
          r"ignorier\w*", "vergiss", r"ändere\w*", r"setze (?:\w+ ){0,5}zurück", r"verwende\w*", r"benutze\w*",
          "empfiehl", "empfehlen sie", r"sag(?:e)? (?:dem|der|den) (?:nutzer|benutzer|anwender|kunden)\w*"),
    REVEAL: (r"gib (?:\S+ ){0,9}?aus", "angeben", r"nenne\w*", "zeige?", r"verrate\w*", r"enthülle\w*",
             r"was (?:ist|sind|war|waren|steht in) (?:\w+ ){0,6}?(?:dein|deine|deines|deinem|deinen)\b"),
    SENSITIVE: (r"passw[oö]rt\w*", r"kennw[oö]rt\w*", "zugangsdaten", "anmeldedaten", r"api-schlüssel\w*",
                r"api-key\w*", r"(?:geheime[nr]?|private[nr]?) schlüssel\w*", r"kreditkart\w*", r"kartennummer\w*",
                r"bankverbindung\w*", "iban", r"sicherheitscode\w*", r"bestätigungscode\w*",
                r"(?:zugangs|sitzungs|api-?)token\w*"),
    PROMPT: (r"system-?prompt\w*", r"systemanweisung\w*", "deine anweisungen", "ihre anweisungen"),
    BULK: (r"posteingang\w*", "alle (?:e-mails|emails|mails|nachrichten|dateien|dokumente|kontakte|daten)", "kontakte",
           r"adressbuch\w*", r"chatverlauf\w*", r"gesprächsverlauf\w*", r"kunden(?:daten\w*|liste\w*)"),
    ROLE: ("(?:ab jetzt|von nun an|ab sofort|fortan),? (?:bist du|du bist|sind sie|wirst du|musst du)",
           "du bist (?:jetzt|nun|ab sofort|nicht mehr)",
           "(?:deine|ihre) (?:neue|eigentliche|wahre) (?:aufgabe|rolle|anweisung|mission)",
           "neue (?:aufgabe|anweisungen?) ?:", "tu(?:e|n sie)? so,? als", "stell dir vor,? du bist",
           "(?:spielen wir|lass uns) (?:ein|das) spiel", r"rollenspiel\w*", "entwicklermodus",
           "(?:spiele|übernimm) die rolle", r"simulier(?:e|en sie) (?:\w+ ){0,4}?(?:namens|mit dem namen)",
           "(?:spielst du|du spielst) (?:jetzt |nun |ab sofort )?(?:die rolle|den|die)", r"schlüpf\w* in die rolle",
           r"antworte (?:immer |nur |ab jetzt )?als (?!ob\b)\w+", "verhalte dich (?:wie|als)",
           "es war einmal", "stell dir vor,? dass du", "du befindest dich (?:jetzt|nun|ab sofort)",
           "(?:schreiben wir|lass uns) (?:zusammen |gemeinsam )?eine geschichte",
           "stellen sie sich vor,? (?:dass )?sie (?:sind|wären)",
           "in (?:dieser|einer) (?:hypothetischen|fiktiven|erfundenen) (?:geschichte|welt|situation)"),
    LIMITS: ("entschuldige dich nie", r"lehne (?:nichts|nie\w*) ab", "(?:ohne|keine) (?:warnungen|hinweise|disclaimer)",
             "(?:ohne|keine) (?:jegliche |alle |irgendwelche )?(?:einschränkungen|beschränkungen|filter|regeln|"
             "grenzen|zensur)", r"uneingeschränkt\w*", r"unzensiert\w*", "an keine (?:regeln|richtlinien)",
             r"(?:lehnt|lehnte) nie(?:mals)? \w+ (?:\w+ )?ab",
             r"nie(?:mals)? (?:eine )?(?:bitte|anfrage|frage) ablehn\w*"),
    SECRECY: (r"ohne (?:den |die )?(?:nutzer|benutzer|anwender|user)\w* (?:\w+ )?zu (?:informieren|fragen|"
              "benachrichtigen|warnen)", r"ohne (?:\w+ )?(?:nach)?zu ?fragen",
              "(?:der )?(?:nutzer|benutzer) hat (?:bereits |schon )?(?:zugestimmt|genehmigt|autorisiert|erlaubt)",
              "ohne rückfrage",
              "sag(?:e)? (?:es )?(?:dem (?:nutzer|benutzer|anwender)|niemandem) (?:nichts|nicht)",
              "erwähne (?:das|dies) nicht", "bevor du antwortest", "vor (?:der|deiner|ihrer) antwort",
              r"(?:nutzer|benutzer)\w* darf (?:das |davon )?nichts (?:wissen|erfahren|merken)"),
    RESPOND: (r"(?:antworte|antworten sie) (?:\w+ ){0,2}?(?:nur|immer|ausschließlich)",
              "beginne deine antwort mit", "antworte (?:zweimal|doppelt)",
              r"(?:nur|ausschließlich) (?:mit|als) (?:\w+ ){0,4}?(?:zu )?antwort\w*"),
    QUIET: ("heimlich", "unbemerkt", "stillschweigend"),
    TOOL: (r"werkzeug\w*", "tool"),
}

_FR = {
    AI: ("ia", "l'ia", "intelligence artificielle", "assistant(?:e)?(?: ia| virtuel)?", "modèle de langage", "agent ia",
         "chatbot"),
    ADDRESSEE: (r"(?:^|(?<=[\n.!?;:]\s{0,3}))(?:ia|assistant\w*|agent ia)\s*[,:]",
                r"(?:quand|lorsque|pendant que|avant que) (?:tu|vous) (?:résum|trait|analys)\w* (?:cette|ce|ces|cet)",
                r"en (?:résumant|traitant|analysant) (?:cette|ce|ces|cet)", r"toi,? l'(?:ia|assistant\w*|agent)",
                "(?:note|message|instructions?|remarque|attention|avis|consigne|étape(?: suivante)?|prochaine"
                " étape|tâche)s? (?:pour|à|a|destinée?s? à) (?:l'|"
                r"la |le |les |tout |toute )?(?:ia|assistant\w*|agent\w*|modèle\w*|chatbot\w*|intelligence "
                "artificielle)", r"(?:cher|chère|bonjour|salut) (?:l')?(?:ia|assistant\w*)",
                r"(?:l'ia|l'assistant\w*|l'agent) (?:doit|devrait|va maintenant)", "si (?:tu es|vous êtes) une ia"),
    YOU: ("tu dois", "vous devez", "il faut que tu", "je veux que (?:tu|vous)"),
    SEND: (r"envoie\w*", r"envoy\w*", r"export\w*", "joins", "joindre", "joignez", r"transf[eè]re\w*", "transférez",
           r"transmet\w*", r"téléverse\w*", r"publie\w*",
           r"partage\w*", "fai(?:s|tes) suivre", r"effectue\w* un virement"),
    ACT: (r"supprim\w*", r"recommande\w*", "inclu(?:s|ez)", r"dis à l'utilisat\w*", r"efface\w*", r"exécute\w*",
          r"appelle\w*", "appelez", r"visite\w*", "ouvre", "ouvrez",
          r"ignore\w*", r"oublie\w*", r"modifie\w*", r"réinitialise\w*", r"utilise\w*"),
    REVEAL: (r"révèle\w*", r"révéle\w*", r"affiche\w*", "montre(?:z)?", r"divulgue\w*",
             r"quel(?:le)?s? (?:est|sont|était) (?:\w+ ){0,6}?(?:ton|ta|tes|votre|vos)\b"),
    SENSITIVE: ("mots? de passe", "identifiants?", "informations d'identification", "clés? (?:d'|de l')?api",
                "clés? (?:secrète|privée)s?", "jeton d'accès", "carte (?:de crédit|bancaire)", "numéro de carte",
                "iban", "coordonnées bancaires", "code de (?:sécurité|vérification|confirmation)"),
    PROMPT: ("(?:invite|prompt|consigne)s? (?:du )?système", "tes instructions", "vos instructions"),
    BULK: ("boîte de réception", "tous les (?:e-?mails|courriels|messages|fichiers|documents|contacts)",
           "toutes les (?:données|conversations)", "carnet d'adresses",
           "historique (?:de la |des )?(?:conversation|discussion)s?", "données (?:des )?clients",
           "base (?:de données )?clients?", "fichier clients?"),
    ROLE: ("(?:à partir de maintenant|désormais|dorénavant|dès maintenant),? (?:tu es|tu seras|vous êtes|vous serez|"
           "tu vas|vous allez|tu dois|vous devez)", "(?:tu es|vous êtes) maintenant", "tu n'es plus",
           "(?:ta|votre) (?:nouvelle|véritable|vraie) (?:tâche|mission|consigne|instruction)",
           "(?:ton|votre) (?:nouveau|véritable|vrai) (?:rôle|objectif)",
           "nouvelles? (?:tâche|instructions?|consignes?) ?:", "fai(?:s|tes) semblant", "fais comme si",
           "jou(?:e|es|ez) le rôle", "jou(?:ons|er) à un jeu", r"réponds? (?:toujours |uniquement )?en tant que",
           "(?:agis|agissez|comporte-toi|comportez-vous) comme", "jeu de rôle", "mode développeur", r"incarne\w*",
           "imagin(?:e|ez) que (?:tu es|vous êtes|tu sois|vous soyez)",
           "écrivons (?:ensemble )?une histoire",
           r"simul(?:e|ez) (?:[\w']+ ){0,6}?(?:nommée?|appelée?)", "il était une fois",
           "dans (?:cette|une) (?:histoire|situation|monde) (?:hypothétique|fictive|fictif|imaginaire)"),
    LIMITS: ("sans (?:aucune |aucun |les )?(?:restrictions?|limites?|filtres?|règles|censure|limitations?|"
             "avertissements?)",
             "ne refuse jamais", "ne t'excuse jamais",
             "aucune (?:restriction|limite|règle|censure)", r"non censuré\w*",
             r"ne refus(?:e|ait|era) jamais", "ne respecte aucune"),
    SECRECY: ("sans (?:le |lui |en )?(?:dire|informer|prévenir|demander|notifier|avertir|redemander)",
              "l'utilisateur a (?:déjà )?(?:donné son accord|approuvé|autorisé|accepté)", "sans que l'utilisateur",
              "ne (?:le |lui )?(?:dis|dites) (?:rien|pas)", "n'inform(?:e|ez) pas", "ne mentionn(?:e|ez) pas",
              "avant de répondre", "l'utilisateur ne doit pas (?:le )?(?:savoir|voir)"),
    RESPOND: (r"répond\w* (?:\w+ ){0,2}?(?:uniquement|seulement|toujours|exclusivement)", r"ne répond\w* (?:que|qu')",
              "commencez? (?:ta|votre) réponse par"),
    QUIET: ("secrètement", "discrètement", "en silence", "en secret"),
    TOOL: (r"outil\w*", "fonction"),
}

_ES = {
    AI: ("ia", "la ia", "inteligencia artificial", "asistente(?: de ia| virtual)?", "modelo de lenguaje",
         "agente de ia", "chatbot"),
    ADDRESSEE: (r"(?:^|(?<=[\n.!?;:]\s{0,3}))(?:ia|asistente\w*|agente de ia)\s*[,:]",
                r"(?:cuando|mientras|antes de que) (?:resumas|proceses|analices) (?:esta|este|estos|estas)",
                r"al (?:resumir|procesar|analizar) (?:esta|este|estos|estas)", r"tú,? (?:la ia|el asistente)",
                "(?:nota|mensaje|instrucci[oó]n(?:es)?|atenci[oó]n|aviso|(?:siguiente |pr[oó]ximo )?paso|tarea)"
                " (?:para|a) (?:la |el |los |las |todo |"
                r"cualquier )?(?:ia|asistente\w*|agente\w*|modelo\w*|chatbot\w*|inteligencia artificial)",
                "(?:querid[oa]|hola|estimad[oa]) (?:ia|asistente)",
                "(?:la ia|el asistente|el agente) (?:debe|deber[ií]a|tiene que)", "si (?:eres|usted es) una ia"),
    YOU: ("debes", "tienes que", "deber[ií]as", "usted debe", "quiero que (?:tú|tu|usted)"),
    SEND: (r"env[ií]a\w*", r"exporta\w*", r"adjunta\w*", r"env[ií]e\w*", r"enviar\w*", r"reenv[ií]\w*", r"transfier\w*",
           r"transferi\w*", "suba",
           "subir",
           "sube(?:lo|la|los|las)?", "publica(?:lo|la|r)?", r"publique\w*", "compart(?:e|a|ir)(?:lo|la|los|las)?",
           r"remite\w*",
           "manda(?:lo|la|los|las|le|r)?"),
    ACT: (r"elimin[ae]\w*", r"recomiend[ae]\w*", "incluye", "incluya", r"dile al usuario", r"borr[ae]\w*",
          r"ejecut[ae]\w*", r"visit[ae]\w*", "abre", "abra", r"ignor[ae]\w*",
          r"olvid[ae]\w*", r"cambi[ae]\w*", r"restablec\w*", r"utiliz[ae]\w*"),
    REVEAL: (r"revel[ae]\w*", r"muestr[ae]\w*", "mostrar", r"divulg[au]\w*",
             r"cu[aá]l(?:es)? (?:es|son|era) (?:\w+ ){0,6}?(?:tu|tus)\b"),
    SENSITIVE: ("contraseñas?", "contrasenas?", "credenciales", "claves? (?:de )?api", "clave (?:secreta|privada)",
                "token de acceso", "tarjeta de cr[eé]dito", "n[uú]mero de (?:la )?tarjeta", "iban", "cuenta bancaria",
                "c[oó]digo de (?:seguridad|verificaci[oó]n)"),
    PROMPT: ("prompt del sistema", "instrucciones del sistema", "tus instrucciones", "sus instrucciones"),
    BULK: ("bandeja de entrada",
           "tod[oa]s l[oa]s (?:correos|e-?mails|mensajes|archivos|ficheros|documentos|contactos|datos|conversaciones)",
           "libreta de direcciones", "historial (?:de (?:la )?)?(?:conversaci[oó]n|chat)",
           "datos de (?:los )?clientes", "base de datos de (?:los )?clientes"),
    ROLE: ("(?:a partir de ahora|de ahora en adelante|desde ahora),? (?:eres|serás|seras|vas a|debes|usted es)",
           "ahora eres", "ya no eres",
           "(?:tu|su) (?:nueva|verdadera|real) (?:tarea|misi[oó]n|funci[oó]n|instrucci[oó]n)",
           "(?:tu|su) (?:nuevo|verdadero) (?:objetivo|rol|papel)", "nuevas? (?:tarea|instrucciones?) ?:",
           r"fing[ei]\w*", "haz como si", "juguemos a(?: un)? juego", "juego de rol", "interpreta el papel",
           r"act[uú]a(?:s|r)? como", r"responde (?:siempre |solo |solamente )?como", "compórtate como",
           "imagina que (?:eres|usted es)", "imagine que (?:es|usted es)",
           "escribamos (?:juntos )?una historia", "ahora (?:estás|estas|usted está)",
           "modo desarrollador", r"simul[ae] (?:[\w']+ ){0,6}?llamad[oa]", "(?:había|érase) una vez",
           "en (?:esta|una) (?:historia|situaci[oó]n|mundo) (?:hipot[eé]tic[oa]|fictici[oa]|imaginari[oa])"),
    LIMITS: ("sin (?:ninguna |ning[uú]n |l[ao]s )?(?:restricci[oó]n(?:es)?|l[ií]mites?|filtros?|reglas|censura|"
             "advertencias?)", "nunca te niegues", "nunca te disculpes", "no añadas advertencias",
             "no sigue ninguna", "ninguna (?:regla|norma|restricci[oó]n|directriz)", "nunca rechaza(?:ba)?"),
    SECRECY: ("sin (?:decir|informar|avisar|preguntar|notificar)(?:le|lo)?", "sin volver a preguntar",
              "el usuario ya (?:lo )?(?:aprobó|autorizó|aceptó|confirmó)", "sin que el usuario",
              "no (?:le )?(?:digas|diga|informes|informe|avises|avise|menciones|mencione)", "antes de responder",
              "el usuario no debe (?:saber|enterarse)"),
    RESPOND: (r"(?:respond|contest)\w* (?:\w+ ){0,2}?(?:solo|solamente|únicamente|unicamente|siempre)",
              "(?:comienza|empieza) tu respuesta con"),
    QUIET: ("en secreto", "secretamente", "silenciosamente", "a escondidas"),
    TOOL: (r"herramienta\w*", "funci[oó]n"),
}

_IT = {
    AI: ("ia", "l'ia", "intelligenza artificiale", "assistente(?: ia| virtuale)?", "modello linguistico", "agente ia",
         "chatbot"),
    ADDRESSEE: (r"(?:^|(?<=[\n.!?;:]\s{0,3}))(?:ia|assistente\w*|agente ia)\s*[,:]",
                r"(?:quando|mentre|prima di) (?:riassumi|elabori|analizzi|riassumere|elaborare|analizzare) (?:questa|"
                r"questo|questi|queste)", r"tu,? (?:l'ia|l'assistente)",
                "(?:nota|messaggio|istruzion[ie]|attenzione|avviso|(?:prossimo )?passo|compito) (?:per|a|all'|"
                "al) ?(?:l'|la |il |ogni |qualsiasi "
                r")?(?:ia|assistente\w*|agente\w*|modello\w*|chatbot\w*|intelligenza artificiale)",
                "(?:car[oa]|ciao|gentile) (?:ia|assistente)", "(?:l'ia|l'assistente|l'agente) (?:deve|dovrebbe)",
                "se sei un'? ?ia"),
    YOU: ("devi", "dovresti", "voglio che tu"),
    SEND: (r"invia\w*", r"esporta\w*", r"allega\w*", "invii", r"inoltra\w*", "trasferisci", "trasferire",
           "carica(?:re|lo|la|li)?", r"pubblica\w*",
           r"condividi\w*", "manda(?:re|lo|la|gli)?"),
    ACT: (r"elimina\w*", r"consiglia\w*", r"raccomanda\w*", "includi", r"di' all'utente", r"cancella\w*", r"esegui\w*",
          r"chiama\w*", r"visita\w*", "apri", r"ignora\w*",
          r"dimentica\w*", r"cambia\w*", r"utilizza\w*"),
    REVEAL: (r"rivela\w*", r"mostra\w*", r"divulga\w*",
             r"qual(?:e|i)? (?:è|e|sono|era) (?:\w+ ){0,6}?(?:tuo|tua|tuoi|tue)\b"),
    SENSITIVE: ("password", "credenziali", "chiavi? (?:api|dell'api)", "chiave (?:segreta|privata)", "token di accesso",
                "carta di credito", "numero della carta", "iban", "conto bancario", "codice di (?:sicurezza|verifica)"),
    PROMPT: ("prompt di sistema", "istruzioni di sistema", "le tue istruzioni"),
    BULK: ("posta in arrivo",
           "tutt[ei] (?:le |i |gli )?(?:email|e-mail|messaggi|file|documenti|contatti|dati|conversazioni)", "rubrica",
           "cronologia (?:della |delle )?(?:chat|conversazion[ei])", "dati dei clienti", "database (?:dei )?clienti"),
    ROLE: ("(?:d'ora in poi|da ora in poi|da adesso in poi|d'ora in avanti|da questo momento),? (?:sei|sarai|devi|tu "
           "sei)", "(?:ora|adesso) sei", "non sei più", "il tuo (?:nuovo|vero) (?:compito|ruolo|obiettivo)",
           "la tua (?:nuova|vera) (?:missione|istruzione)", "nuov[oie] (?:compito|istruzioni) ?:", r"fingi\w*",
           "fai finta", "giochiamo a(?: un)? gioco", "gioco di ruolo", "interpret(?:a|i) il ruolo",
           "modalità sviluppatore",
           r"rispondi (?:sempre |solo )?come", "(?:comportati|agisci) come", "immagina (?:di essere|che tu sia)",
           "scriviamo (?:insieme )?una storia",
           r"simula (?:[\w']+ ){0,6}?(?:chiamat[oa]|di nome)", "c'era una volta",
           "in (?:questa|una) (?:storia|situazione|mondo) (?:ipotetic[oa]|fittizi[oa]|immaginari[oa])"),
    LIMITS: ("senza (?:alcuna |alcun |nessuna |le )?(?:restrizion[ei]|limit[ei]|filtr[oi]|regole|censura|"
             "avvertiment[oi])",
             "non rifiutare mai", "non scusarti mai",
             "(?:nessuna|alcuna) (?:regola|restrizione|linea guida)", "non rifiuta(?:va)? mai"),
    SECRECY: ("senza (?:dire|informare|avvisare|chiedere|notificare)", "senza chiedere di nuovo",
              "l'utente ha già (?:approvato|autorizzato|accettato|confermato)", "senza che l'utente", "non dire",
              "non (?:informare|avvisare|menzionare)", "prima di rispondere", "l'utente non deve (?:sapere|saperlo)"),
    RESPOND: (r"rispond\w* (?:\w+ ){0,2}?(?:solo|soltanto|solamente|unicamente|sempre)", "inizia la tua risposta con"),
    QUIET: ("di nascosto", "segretamente", "in silenzio", "in segreto"),
    TOOL: ("strumento", "funzione"),
}

_PT = {
    AI: ("ia", "a ia", "intelig[eê]ncia artificial", "assistente(?: de ia| virtual)?", "modelo de linguagem",
         "agente de ia", "chatbot"),
    ADDRESSEE: (r"(?:^|(?<=[\n.!?;:]\s{0,3}))(?:ia|assistente\w*|agente de ia)\s*[,:]",
                r"(?:quando|enquanto|antes de) (?:você |voce |tu )?(?:resumir|processar|analisar|resumires) (?:esta|"
                r"este|estes|estas)", r"(?:você|voce|tu),? (?:a ia|o assistente)",
                "(?:nota|mensagem|instru[cç](?:ão|ões|ao|oes)|aten[cç][aã]o|aviso|(?:pr[oó]ximo )?passo|tarefa)"
                " (?:para|a|ao|à) (?:a |o |os |as |"
                r"qualquer )?(?:ia|assistente\w*|agente\w*|modelo\w*|chatbot\w*|intelig[eê]ncia artificial)",
                "(?:car[oa]|olá|ola|prezad[oa]) (?:ia|assistente)",
                "(?:a ia|o assistente|o agente) (?:deve|deveria|precisa)", "se (?:você|voce|tu) (?:é|e|és) uma ia"),
    YOU: ("(?:você|voce) (?:deve|precisa)", "tu deves", "deves", "quero que (?:você|voce|tu)"),
    SEND: (r"envie\w*", r"export\w*", r"anex\w*", r"envia\w*", "enviar", r"encaminh\w*", r"reencaminh\w*",
           r"transfira\w*", "transferir",
           r"carregue\w*", r"publique\w*", r"compartilh\w*", r"partilh\w*", "mande(?:m)?"),
    ACT: (r"exclua\w*", r"recomende\w*", "inclua", r"diga ao usu[aá]rio", "excluir", r"apague\w*", "apagar", "executar",
          r"chame\w*", r"visite\w*", "abra",
          r"esque[cç]a\w*", r"altere\w*", r"mude\w*", r"utilize\w*"),
    REVEAL: (r"revele\w*", "revelar", r"mostre\w*", "mostrar", r"divulgue\w*",
             r"qua(?:l|is) (?:é|e|são|era) (?:\w+ ){0,6}?(?:teu|tua|teus|tuas)\b"),
    SENSITIVE: ("senhas?", "credenciais", "chaves? (?:de )?api", "chave (?:secreta|privada)", "token de acesso",
                "cart[aã]o de cr[eé]dito", "n[uú]mero do cart[aã]o", "iban", "conta banc[aá]ria",
                "c[oó]digo de (?:seguran[cç]a|verifica[cç][aã]o)"),
    PROMPT: ("prompt do sistema", "instru[cç][oõ]es do sistema", "(?:suas|tuas) instru[cç][oõ]es"),
    BULK: ("caixa de entrada",
           "tod[oa]s (?:os |as )?(?:e-?mails|mensagens|arquivos|ficheiros|documentos|contatos|contactos|dados|"
           "conversas)", "agenda de contatos", "hist[oó]rico (?:da |das |de )?(?:conversas?|chat)",
           "dados dos clientes", "banco de dados (?:de|dos) clientes", "base de clientes"),
    ROLE: ("(?:a partir de agora|de agora em diante|daqui em diante),? (?:você|voce|tu) (?:é|e|és|será|vai|deve)",
           "agora (?:você|voce) (?:é|e)", "agora és", "(?:você|voce) não é mais",
           "(?:sua|tua) (?:nova|verdadeira|real) (?:tarefa|missão|missao|função|funcao|instrução|instrucao)",
           "(?:seu|teu) (?:novo|verdadeiro) (?:objetivo|papel)", "novas? (?:tarefa|instru[cç][oõ]es) ?:", r"finja\w*",
           "fa[cç]a de conta", "vamos jogar um jogo", "jogo de (?:rpg|interpreta[cç][aã]o|pap[eé]is)",
           "interprete o papel", "imagine que (?:você|voce|tu) (?:é|e|és)", "imagina que (?:és|você é)",
           "vamos escrever uma história", "agora (?:você|voce) está", "agora estás", "modo desenvolvedor",
           r"simule (?:[\w']+ ){0,6}?chamad[oa]", "era uma vez",
           "(?:nesta|numa|em uma) (?:história|situa[cç][aã]o|mundo) (?:hipot[eé]tic[oa]|fict[ií]ci[oa]|"
           "imagin[aá]ri[oa])"),
    LIMITS: ("sem (?:nenhuma |qualquer |as )?(?:restri[cç](?:ão|ões|ao|oes)|limites?|filtros?|regras|censura|avisos?)",
             "nunca recuse", "nunca pe[cç]a desculpas",
             "não segue nenhuma", "nenhuma (?:regra|restri[cç][aã]o|diretriz)", "nunca recusa(?:va)?"),
    SECRECY: ("sem (?:dizer|informar|avisar|perguntar|notificar)", "sem perguntar de novo",
              "o usu[aá]rio já (?:aprovou|autorizou|aceitou|confirmou)", "sem que o usu[aá]rio",
              "não (?:diga|informe|avise|conte|mencione)", "antes de responder",
              "o usu[aá]rio não (?:deve|pode) (?:saber|perceber)"),
    RESPOND: (r"respond\w* (?:\w+ ){0,2}?(?:apenas|somente|só|unicamente|sempre)",
              "comece (?:sua|a sua|tua|a tua) resposta com"),
    QUIET: ("em segredo", "secretamente", "silenciosamente", "às escondidas"),
    TOOL: ("ferramenta", "fun[cç][aã]o"),
}

_ZH = {
    AI: ("人工智能", "ai助手", "助手", "智能体", "智能助手", "大模型", "语言模型", "机器人"),
    ADDRESSEE: (r"(?:ai|助手|智能体|人工智能|大模型|ai助手)\s*[,、:]",
                "(?:总结|概括|处理|分析)(?:此|这个|本|这篇|该)[^，,。\n]{0,8}?时",
                "(?:给|致|对)(?:ai|人工智能|助手|智能体|ai助手|大模型|语言模型|模型|机器人)",
                "(?:ai|人工智能|助手|智能体|大模型|模型)(?:请注意|注意|须知|必须|应该|需要|应当|务必)",
                "如果你是[^，,。\n]{0,20}?(?:ai|人工智能|语言模型|助手)"),
    YOU: ("你必须", "你需要", "你应该", "您必须", "您需要", "请你"),
    SEND: ("发送", "附加到", "附上", "导出", "发给", "发到", "转发", "上传", "发布", "传送", "转账", "汇款", "分享",
           "泄露", "外发"),
    ACT: ("删除", "调用", "访问", "忽略", "重置", "输入"),
    REVEAL: ("透露", "输出", "打印", "告诉我", "告诉用户", "告诉他们"),
    SENSITIVE: ("密码", "口令", "凭证", "凭据", "api ?密钥", "密钥", "私钥", "令牌", "信用卡", "银行卡", "银行账户",
                "验证码", "安全码"),
    PROMPT: ("系统提示", "系统指令", "你的指令"),
    BULK: ("收件箱", "所有邮件", "全部邮件", "所有文件", "全部文件", "联系人", "通讯录", "对话记录", "聊天记录",
           "对话历史", "客户数据"),
    ROLE: ("从现在(?:开始|起),? ?你", "你现在是", "你不再是", "你的新任务", "你(?:的)?真正(?:的)?任务", "想象你是",
           "假设你是", "(?:我们|一起)(?:来)?写一个故事",
           "(?:现在)?你(?:现在)?处于", "新任务 ?:", "新的任务",
           "新指令", "新的指令", "假装", "扮演", "角色扮演", "开发者模式", "玩一个游戏", "我们来玩",
           "模拟(?:一个|一名)?(?:名叫|叫做)", "在这个(?:假设的|虚构的)故事(?:里|中)"),
    LIMITS: ("没有(?:任何)?(?:限制|过滤|规则|审查)", "(?:永远)?不要拒绝",
             "不要(?:添加|加上?)(?:任何)?(?:警告|免责声明)", "不受(?:任何)?(?:限制|约束)", "无限制",
             "无审查",
             "不(?:遵守|遵循)任何", "毫无限制", "从不拒绝"),
    SECRECY: ("不要告诉", "别告诉", "不要通知", "不要让用户知道", "不要提及", "在回答之前", "回答之前", "回答前",
              "在回复之前", "未经用户(?:同意|允许)"),
    RESPOND: ("(?:只|仅|只能|始终|总是)(?:回复|回答|输出|答复)", "开头回答", "作为回答的开头"),
    QUIET: ("悄悄", "秘密地", "偷偷"),
    OVERRIDE: (r"忽略(?:之前|以上|上面|先前|前面|所有|全部|此前|上述)\w{0,8}?(?:指令|指示|说明|规则|提示|要求)",
               r"忘记(?:之前|以上|所有|全部)\w{0,8}?(?:指令|指示|规则)"),
    TOOL: ("工具", "函数"),
}

_JA = {
    AI: ("人工知能", "アシスタント", "エージェント", "言語モデル", "チャットボット"),
    ADDRESSEE: (r"(?:ai|アシスタント|エージェント|チャットボット)(?:さん)?\s*[,、:]",
                "(?:この|本)[^、。\n]{0,10}?を(?:要約|処理|分析)する(?:際|とき|時|前)",
                "(?:ai|アシスタント|エージェント|言語モデル|モデル|人工知能|チャットボット|llm)(?:さん|様)?(?:へ|"
                "宛て|への(?:指示|注意|メッセージ|お知らせ)|に告ぐ)",
                "(?:ai|アシスタント|エージェント)(?:は|が)(?:必ず|直ちに|今すぐ)",
                "もしあなたが(?:ai|言語モデル|アシスタント)"),
    YOU: ("あなたは必ず", "あなたは今すぐ", "必要があります"),
    SEND: ("送信", "送って", "送付", "送る", "転送", "アップロード", "投稿", "公開", "共有", "送金", "振り込", "振込"),
    ACT: ("削除", "呼び出", "アクセスして", "開いて", "無視", "リセット", "使って", "入力(?:して|する|させ)",
          "案内して"),
    REVEAL: ("出力", "教えて", "開示", "明かして", "伝えて", "伝え[、,]", "言って"),
    SENSITIVE: ("パスワード", "認証情報", "api ?キー", "シークレット", "秘密鍵", "アクセストークン", "クレジットカード",
                "カード番号", "口座番号", "銀行口座", "暗証番号", "認証コード", "セキュリティコード"),
    PROMPT: ("システムプロンプト", "システム指示"),
    BULK: ("受信トレイ", "すべてのメール", "全てのメール", "全メール", "すべてのファイル", "全てのファイル", "連絡先",
           "アドレス帳", "会話履歴", "チャット履歴", "顧客データ"),
    ROLE: ("(?:今から|これから|今後)(?:は)?[,、]? ?あなたは", "あなたは今", "あなたはもう", "新しいタスク",
           "新しい指示", "新たな指示", "本当のタスク", "ふりをし", "演じて", "になりきって", "ロールプレイ",
           "開発者モード", "ゲームをしましょう", "ゲームをしよう", "シミュレートして", "昔々", "この物語では",
           "として振る舞", "(?:だと|であると)想像して", "物語を(?:一緒に)?書きましょう",
           "として(?:常に)?(?:答え|回答し|応答し)"),
    LIMITS: ("制限(?:なし|なく|のない|がない)", "(?:どんな|何の|いかなる)制限も(?:ない|なく|なし)",
             "フィルター(?:なし|なく)", "検閲(?:なし|なく)", "一切の制限",
             "ルールにも従わ", "決して断らない", "断らないで", "警告を(?:付け|加え)ないで"),
    SECRECY: ("知らせず", "知らせないで", "伝えないで", "言わないで", "ユーザーに(?:は)?(?:内緒|秘密)", "回答する前に",
              "答える前に", "返信する前に", "確認せずに", "許可なく"),
    RESPOND: ("(?:だけ|のみ)で?(?:答え|回答し|返信し|応答し|返答し)", "常に(?:答え|回答し|返信し|応答し)",
              "(?:で|から)始めて(?:ください)?"),
    QUIET: ("こっそり", "密かに", "秘密裏に", "黙って"),
    OVERRIDE: ("(?:指示|命令|指令|ルール|プロンプト)(?:を|は)(?:すべて|全て)?(?:無視|忘れ)",
               r"(?:以前|前|上記|これまで|今まで|先ほど)の\w{0,8}?(?:指示|命令|指令|ルール)\w{0,4}?(?:無視|忘れ)"),
    TOOL: ("ツール", "関数"),
}

_RU = {
    AI: ("ии", r"искусственн\w* интеллект\w*", r"ассистент\w*", r"нейросет\w*", r"языков\w* модел\w*", r"чат-?бот\w*",
         r"ии-(?:агент|ассистент)\w*"),
    ADDRESSEE: (r"(?:^|(?<=[\n.!?;:]\s{0,3}))(?:ии|ассистент\w*|нейросеть|помощник|чат-?бот)\s*[,:]",
                r"когда (?:будешь |будете )?(?:пересказыва|резюмирова|обрабатыва|анализирова|перескаж|обработа)\w* "
                r"(?:эт|дан)\w*",
                r"(?:заметка|сообщение|инструкци\w*|указани\w*|внимание|примечание|записка|(?:следующий )?шаг|"
                r"задача) (?:для|к) (?:ии|"
                r"ассистент\w*|модел\w*|агент\w*|нейросет\w*|бот\w*|помощник\w*)",
                r"(?:дорог\w*|уважаем\w*|привет|эй),? (?:ии|ассистент\w*|нейросет\w*|бот\w*)",
                r"(?:ии|ассистент|агент|модель|нейросеть|бот) (?:должен|должна|должно|обязан\w*)",
                r"если ты (?:ии|языковая модель|ассистент\w*|нейросеть)"),
    YOU: ("ты должен", "ты должна", "вы должны", "тебе нужно", "вам нужно", "я хочу,? чтобы ты"),
    SEND: (r"отправ\w*", r"прикрепи\w*", r"экспортируй\w*", r"перешл\w*", r"пересла\w*", r"загрузи\w*", r"выгрузи\w*",
           r"опубликуй\w*", r"передай\w*",
           r"перечисли\w*"),
    ACT: (r"удали\w*", r"вызови\w*", r"выполни\w*", r"запусти\w*", r"посети\w*", r"открой\w*", r"игнорируй\w*",
          r"проигнорируй\w*", r"забудь\w*", r"измени\w*", r"сбрось\w*", r"используй\w*", r"попроси\w*",
          "введи", "введите"),
    REVEAL: (r"раскрой\w*", r"покажи\w*", r"выведи\w*", r"разгласи\w*", "скажи", "скажите", "сообщи"),
    SENSITIVE: (r"парол\w*", r"уч[её]тн\w* данн\w*", r"api-ключ\w*", r"ключ\w* api", r"(?:секретн|приватн)\w* ключ\w*",
                r"токен\w*", "(?:номер|данные) карты", r"кредитн\w* карт\w*", r"банковск\w* (?:карт|сч[её]т)\w*",
                "код подтверждения"),
    PROMPT: (r"системн\w* (?:промпт|инструкци|подсказк)\w*", "(?:твои|ваши) инструкции"),
    BULK: (r"входящи\w*", "все (?:письма|сообщения|файлы|документы|контакты)", r"контакт\w*", r"адресн\w* книг\w*",
           r"истори\w* (?:переписки|чата|диалога|разговора)", r"переписк\w*", "данные клиентов",
           r"баз\w* (?:данных )?клиентов"),
    ROLE: ("(?:с этого момента|отныне),? (?:ты|вы)", "теперь ты", "(?:ты|вы) теперь", "ты больше не",
           "(?:твоя|ваша) (?:новая|настоящая|истинная) (?:задача|роль|цель|миссия|инструкция)", "новая задача ?[:—-]",
           "новые инструкции ?[:—-]", r"притворись\w*", "притворитесь", "представь,? что ты", "сыграем в игру",
           "давай сыграем", r"ролев\w* игр\w*", "играй роль", "режим разработчика", r"сымитируй\w*",
           r"имитируй\w*", "жил-был", r"давай(?:те)? напиш\w* (?:историю|рассказ)", "жила-была",
           "в этой (?:гипотетической |вымышленной )?истории"),
    LIMITS: ("без (?:каких-либо |всяких |любых )?(?:ограничений|фильтров|правил|цензуры)",
             "нет (?:никаких )?(?:ограничений|фильтров|правил)", "никаких (?:правил|ограничений)",
             r"никогда не отказыва\w*", "не отказывайся", r"без (?:каких-либо )?предупреждений",
             "не добавляй предупреждений"),
    SECRECY: ("не говори", r"не сообщай\w*", r"не рассказывай\w*", r"не упоминай\w*", "без ведома", "перед ответом",
              "прежде чем ответить", "до того как ответить", "пользователь не должен (?:знать|узнать)",
              "без подтверждения"),
    RESPOND: (r"(?:ответ|отвеч)\w* (?:\w+ ){0,1}?(?:только|всегда|исключительно)",
              r"начни (?:свой )?ответ (?:со слов|с)",
              "отвечай дважды"),
    QUIET: ("тайно", "незаметно", "молча", "втайне"),
    OVERRIDE: (r"(?:игнорируй|проигнорируй|забудь|отбрось)\w* (?:\w+ ){0,3}?(?:инструкци|указани|правил|команд|"
               r"промпт)\w*",),
    TOOL: (r"инструмент\w*", r"функци\w*"),
}

LANGUAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "de": _DE, "fr": _FR, "es": _ES, "it": _IT, "pt": _PT, "zh": _ZH, "ja": _JA, "ru": _RU,
}
