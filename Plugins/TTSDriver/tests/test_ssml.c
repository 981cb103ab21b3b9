/*
 * Unit tests of the SSML allow-list check (ssml.c), run by `make check` under ASan/UBSan.
 *
 * Every refusal names what it refused; hostile input (deep nesting, truncation at every byte,
 * random mutations, NUL bytes, invalid UTF-8, huge texts, tiny error buffers) is refused or
 * accepted without reading outside the text, and whatever is accepted has no '<' that starts
 * anything but an allowed tag.
 */
#include "ssml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

static const char *const allowed[] = { "speak", "break", "emphasis", "prosody", "say-as", "voice", "s", "p", "sub", "mark" };

/* Checks a NUL-terminated text; returns the result and leaves the reason in `err`. */
static int check_text(const char *text, char *err, size_t err_size)
{
    err[0] = '\0';
    return ssml_check(text, strlen(text), err, err_size);
}

static void accepts(const char *text)
{
    char err[512];
    int ok = check_text(text, err, sizeof err);
    CHECK(ok == 1, "refused %s: %s", text, err);
}

static void refuses(const char *text, const char *reason)
{
    char err[512];
    int ok = check_text(text, err, sizeof err);
    CHECK(ok == 0, "accepted %s", text);
    CHECK(strstr(err, reason) != NULL, "%s: reason \"%s\" lacks \"%s\"", text, err, reason);
}

/* The oracle for accepted texts: every '<' starts an allowed start or end tag (or is the XML
 * declaration at byte 0), and no attribute value can hide a '>' from espeak-ng. */
static int only_allowed_tags(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '<') continue;
        size_t j = i + 1;
        if (i == 0 && len >= 5 && memcmp(s, "<?xml", 5) == 0) continue;
        if (j < len && s[j] == '/') j++;
        int found = 0;
        for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++) {
            size_t n = strlen(allowed[k]);
            if (j + n < len && memcmp(s + j, allowed[k], n) == 0 &&
                (s[j + n] == '>' || s[j + n] == '/' || s[j + n] == ' ' || s[j + n] == '\t' || s[j + n] == '\n' || s[j + n] == '\r')) {
                found = 1;
            }
        }
        if (!found) return 0;
    }
    return 1;
}

static void test_allowed_markup(void)
{
    accepts("Hello world");
    accepts("<speak>Hello <break time=\"1500ms\"/> world</speak>");
    accepts("<speak version=\"1.0\" xmlns=\"http://www.w3.org/2001/10/synthesis\" xml:lang=\"en-US\">"
            "<p><s>One.</s><s>Two.</s></p></speak>");
    accepts("<?xml version=\"1.0\" encoding=\"UTF-8\"?><speak>Hi</speak>");
    accepts("<prosody rate='slow' pitch=\"+10%\">slow</prosody> <emphasis level=\"strong\">now</emphasis>");
    accepts("<say-as interpret-as=\"characters\">abc</say-as><sub alias=\"World Wide Web\">WWW</sub>");
    accepts("<voice gender=\"female\">hi</voice><mark name=\"here\"/><break/><break />");
    accepts("<speak\n  xml:lang = 'en'\t>x</speak >");
    accepts("Fish &amp; chips &lt;3 &gt; &quot;q&quot; &apos;a&apos; &#65;&#x42;&#x1F600; caf\xC3\xA9");
    accepts("<sub alias=\"R&amp;D\">RnD</sub>");
    accepts("a > b"); /* '>' in text is XML */
    accepts("");
}

static void test_refused_tags(void)
{
    refuses("<audio src=\"/etc/passwd\"/>", "SSML tag <audio> is not allowed (allowed: speak, break, emphasis, prosody, "
                                             "say-as, voice, s, p, sub, mark)");
    refuses("<speak><audio src=\"/etc/passwd\"/></speak>", "<audio>");
    refuses("<speak><audio src=\"x.wav\">alt</audio></speak>", "<audio>");
    refuses("<foo>", "SSML tag <foo> is not allowed");
    refuses("Hello </foo>", "SSML tag </foo> is not allowed");
    refuses("<AUDIO src=\"x\"/>", "<AUDIO>");
    refuses("<Speak>x</Speak>", "<Speak>");
    refuses("<phoneme alphabet=\"espeak\" ph=\"h@l'oU\">x</phoneme>", "<phoneme>");
    refuses("<tts:style field=\"punctuation\" mode=\"all\">x</tts:style>", "<tts:style>");
    refuses("<metadata>x</metadata>", "<metadata>");
    refuses("<b>bold</b>", "<b>");
    refuses("<img src=\"x\"/>", "<img>");
    refuses("<f\xC3\xB6\xC3\xB6>", "SSML tag <f\xC3\xB6\xC3\xB6> is not allowed");
    refuses("<!DOCTYPE speak [<!ENTITY x \"y\">]><speak>&x;</speak>", "SSML markup <!DOCTYPE> is not allowed");
    refuses("<!ENTITY x SYSTEM \"file:///etc/passwd\">", "<!ENTITY>");
    refuses("<?xml-stylesheet href=\"x.xsl\"?><speak/>", "SSML processing instruction <?xml-stylesheet?> is not allowed");
    refuses("<?php system('id'); ?>", "<?php?>");
    refuses("Hi <?xml version=\"1.0\"?>", "only at the start");
    refuses("<!-- a comment -->Hi", "SSML comments are not allowed");
    refuses("<!-- > <audio src=\"x\"/> -->", "comments are not allowed");
    refuses("<![CDATA[<audio/>]]>", "CDATA sections are not allowed");
    /* A very long name is shown cut, never overflowing the reason. */
    char long_name[300] = "<";
    memset(long_name + 1, 'a', 250);
    long_name[251] = '>';
    long_name[252] = '\0';
    refuses(long_name, "SSML tag <aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa> is not allowed");
}

static void test_references(void)
{
    refuses("&nbsp;", "SSML entity reference &nbsp; is not allowed");
    refuses("&xxe;", "&xxe;");
    refuses("Fish & chips", "'&' starts no reference");
    refuses("&amp", "'&' starts no reference");
    refuses("&#;", "a character reference must be");
    refuses("&#x;", "a character reference must be");
    refuses("&#12345678;", "a character reference must be");
    refuses("&#0;", "U+0000, which XML does not allow");
    refuses("&#1;", "U+0001");
    refuses("&#xD800;", "U+D800");
    refuses("&#x110000;", "U+110000");
    refuses("<prosody rate=\"&foo;\">x</prosody>", "&foo;");
    refuses("&abcdefghijklmnop;", "'&' starts no reference");
}

static void test_malformed(void)
{
    refuses("a < b", "'<' starts no tag (write &lt; for a literal <)");
    refuses("a <", "'<' at the end of the text");
    refuses("<speak", "the tag <speak> at byte 0 is never closed with '>'");
    refuses("<speak>hi", "<speak> at byte 0 is never closed");
    refuses("</speak>", "</speak> closes nothing");
    refuses("<speak><s>x</speak></s>", "</speak> where <s> (byte 7) should be closed");
    refuses("<prosody rate=\"slow>x</prosody>", "'>' inside the value of attribute \"rate\"");
    refuses("<prosody rate=\"slow", "has no closing quote");
    refuses("<prosody rate='slow\">x</prosody>", "'>' inside the value");
    refuses("<prosody rate=slow>x</prosody>", "must be in quotes");
    refuses("<prosody rate>x</prosody>", "has no '=' and value");
    refuses("<prosody rate=\"a\"pitch=\"b\">x</prosody>", "needs a space before each attribute");
    refuses("<prosody rate=\"a\" rate=\"b\">x</prosody>", "attribute \"rate\" given twice");
    refuses("<prosody rate=\"a<b\">x</prosody>", "'<' inside the value of attribute \"rate\"");
    refuses("<break / >", "'/' inside <break> must be followed by '>'");
    refuses("</s x=\"1\">", "takes no attributes");
    refuses("</ >", "'</' without a tag name");
    refuses("<>", "'<' starts no tag");
    refuses("< speak>", "'<' starts no tag");
    refuses("<speak \xC3\xA9=\"x\">", "unexpected");
    refuses("<break t\xC3\xA9=\"x\"/>", "attribute names in <break> must be ASCII");
    refuses("a\x01" "99I b", "control character U+0001");
    refuses("a\x1b b", "U+001B");
}

static void test_limits(void)
{
    char err[512];
    /* Nesting: 16 open elements are fine, the 17th is refused. */
    char text[4096] = "";
    for (int i = 0; i < SSML_MAX_DEPTH; i++) strcat(text, "<voice>");
    strcat(text, "x");
    for (int i = 0; i < SSML_MAX_DEPTH; i++) strcat(text, "</voice>");
    accepts(text);
    text[0] = '\0';
    for (int i = 0; i <= SSML_MAX_DEPTH; i++) strcat(text, "<s>");
    refuses(text, "SSML is nested too deeply: <s> at byte 48 would be the 17th open element (at most 16)");

    /* 100,000 levels: refused at the 17th, nothing deeper is looked at. */
    size_t n = 100000 * 3;
    char *deep = malloc(n + 1);
    for (size_t i = 0; i < n; i += 3) memcpy(deep + i, "<p>", 3);
    deep[n] = '\0';
    refuses(deep, "nested too deeply");
    free(deep);

    /* A tag longer than the budget, and one just inside it. */
    char tag[1024];
    int len = snprintf(tag, sizeof tag, "<mark name=\"%0*d\"/>", SSML_MAX_TAG_BYTES - 15, 0);
    CHECK(len == SSML_MAX_TAG_BYTES, "tag is %d bytes", len);
    accepts(tag);
    snprintf(tag, sizeof tag, "<mark name=\"%0*d\"/>", SSML_MAX_TAG_BYTES - 14, 0);
    refuses(tag, "SSML tag <mark> at byte 0 is longer than 400 bytes");

    /* Too many attributes. */
    char many[1024] = "<speak";
    for (int i = 0; i <= SSML_MAX_ATTRIBUTES; i++) snprintf(many + strlen(many), sizeof many - strlen(many), " a%d='1'", i);
    strcat(many, ">x</speak>");
    refuses(many, "has more than 16 attributes");

    /* A huge plain text (far over the plugin's 10,000 characters) is one linear pass. */
    size_t big = 8u << 20;
    char *huge = malloc(big + 1);
    for (size_t i = 0; i < big; i++) huge[i] = "word &amp; "[i % 11];
    huge[big - (big % 11)] = '\0';
    accepts(huge);
    free(huge);

    /* NUL bytes inside the given length, and a length that ends mid-character or mid-tag. */
    static const char with_nul[] = "<speak>a\0<audio src=\"x\"/></speak>";
    CHECK(ssml_check(with_nul, sizeof with_nul - 1, err, sizeof err) == 0 && strstr(err, "NUL byte (byte 8)"), "NUL: %s", err);
    CHECK(ssml_check("caf\xC3\xA9", 4, err, sizeof err) == 0 && strstr(err, "not valid UTF-8 (byte 3)"), "cut UTF-8: %s", err);
    CHECK(ssml_check("<speak>", 6, err, sizeof err) == 0 && strstr(err, "never closed with '>'"), "cut tag: %s", err);

    /* Invalid UTF-8 of every kind. */
    refuses("\xC0\xAF", "not valid UTF-8 (byte 0)");          /* overlong '/' */
    refuses("ab\xE0\x80\xBC", "not valid UTF-8 (byte 2)");     /* overlong '<' */
    refuses("\xED\xA0\x80", "not valid UTF-8");                /* surrogate */
    refuses("\xF4\x90\x80\x80", "not valid UTF-8");            /* above U+10FFFF */
    refuses("\xFF", "not valid UTF-8");
    refuses("\x80", "not valid UTF-8");

    /* Error buffers: none, one byte, a short one (reason cut, still terminated). */
    CHECK(ssml_check("<audio/>", 8, NULL, 0) == 0, "no buffer");
    char one[1] = { 'x' };
    CHECK(ssml_check("<audio/>", 8, one, 1) == 0 && one[0] == '\0', "one-byte buffer");
    char small[12];
    CHECK(ssml_check("<audio/>", 8, small, sizeof small) == 0 && strlen(small) == sizeof small - 1, "short buffer");
    CHECK(ssml_check(NULL, 3, err, sizeof err) == 0, "NULL text");
}

/* Every prefix of valid documents: refused or accepted, never read past its end (ASan), and
 * accepted only when well-formed on its own. */
static void test_truncation(void)
{
    static const char *const docs[] = {
        "<?xml version=\"1.0\"?><speak xml:lang=\"en\"><p><s>Hi &amp; <emphasis level='strong'>bye</emphasis>"
        "</s></p><break time=\"1s\"/><prosody rate=\"slow\">&#x1F600; caf\xC3\xA9</prosody></speak>",
        "<speak><voice name=\"en\"><say-as interpret-as=\"characters\">ab</say-as><sub alias=\"x\">y</sub>"
        "<mark name=\"m\"/></voice></speak>",
    };
    char err[512];
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        size_t len = strlen(docs[d]);
        CHECK(ssml_check(docs[d], len, err, sizeof err) == 1, "doc %zu: %s", d, err);
        for (size_t cut = 0; cut < len; cut++) {
            char *copy = malloc(cut ? cut : 1); /* exactly `cut` bytes: ASan sees any overread */
            memcpy(copy, docs[d], cut);
            int ok = ssml_check(copy, cut, err, sizeof err);
            if (ok) CHECK(only_allowed_tags((const unsigned char *)copy, cut), "doc %zu cut at %zu accepted badly", d, cut);
            else CHECK(err[0] != '\0', "doc %zu cut at %zu: refused without a reason", d, cut);
            free(copy);
        }
    }
}

/* Random texts from markup-heavy pieces: whatever is accepted passes the oracle. */
static void test_random(void)
{
    static const char *const pieces[] = {
        "<", ">", "/", "</", "/>", "<speak", "<s", "<p", "<audio", "<break", "<prosody", "<voice", "<!--", "-->",
        "<!DOCTYPE", "<?xml", "?>", "<![CDATA[", "]]>", "&", "&amp;", "&lt;", "&#60;", "&#x3c;", "&foo;", ";",
        "\"", "'", "=", " ", "\n", "rate", "src", "x", "\xC3\xA9", "\xC3", "\x80", "speak>", "s>", "p>",
    };
    unsigned long long state = 0x5eed;
    char err[512];
    int accepted = 0;
    for (int round = 0; round < 200000; round++) {
        char text[256];
        size_t len = 0;
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int count = (int)((state >> 33) % 24);
        for (int k = 0; k < count; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const char *piece = pieces[(state >> 33) % (sizeof pieces / sizeof pieces[0])];
            size_t n = strlen(piece);
            if (len + n >= sizeof text) break;
            memcpy(text + len, piece, n);
            len += n;
        }
        char *copy = malloc(len ? len : 1);
        memcpy(copy, text, len);
        if (ssml_check(copy, len, err, sizeof err)) {
            accepted++;
            CHECK(only_allowed_tags((const unsigned char *)copy, len), "accepted badly: %.*s", (int)len, copy);
        } else {
            CHECK(err[0] != '\0', "refused without a reason: %.*s", (int)len, copy);
        }
        free(copy);
    }
    CHECK(accepted > 100, "the generator reached accepted texts (%d)", accepted);
}

int main(void)
{
    test_allowed_markup();
    test_refused_tags();
    test_references();
    test_malformed();
    test_limits();
    test_truncation();
    test_random();
    printf("test_ssml: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
