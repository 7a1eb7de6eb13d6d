/**
 * The most common passwords and password base words (lower-case), compiled for the password policy.
 * Checked after lower-casing, undoing common letter substitutions (p@ssw0rd) and stripping the digits
 * and symbols people pad them with (Password2024!), so each base word covers its usual variations.
 */
const LIST = `
123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 baseball abc123 football monkey
letmein 696969 shadow master 666666 qwertyuiop 123321 mustang 1234567890 michael 654321 pussy superman 1qaz2wsx
7777777 fuckyou 121212 000000 qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh hunter buster soccer
harley batman andrew tigger sunshine iloveyou fuckme 2000 charlie robert thomas hockey ranger daniel starwars klaster
112233 george asshole computer michelle jessica pepper 1111 zxcvbn 555555 11111111 131313 freedom 777777 pass fuck
maggie 159753 aaaaaa ginger princess joshua cheese amanda summer love ashley 6969 nicole chelsea biteme matthew access
yankees 987654321 dallas austin thunder taylor matrix william corvette hello martin heather secret merlin diamond
1234qwer gfhjkm hammer silver 222222 88888888 anthony justin test bailey q1w2e3r4t5 patrick internet scooter orange
11111 golfer cookie richard samantha bigdog guitar jackson whatever mickey chicken sparky snoopy maverick phoenix
camaro sexy peanut morgan welcome falcon cowboy ferrari samsung andrea smokey steelers joseph mercedes dakota arsenal
eagles melissa boomer booboo spider nascar monster tigers yellow xxxxxx 123123123 gateway marina diablo bulldog
qwer1234 compaq purple hardcore banana junior hannah 123654 porsche lakers iceman money cowboys 987654 london tennis
999999 ncc1701 coffee scooby 0000 miller boston q1w2e3r4 fuckoff brandon yamaha chester mother forever johnny edward
333333 oliver redsox player nikita knight fender barney midnight please brandy chicago badboy iwantu slayer rangers
charles angel flower bigdaddy rabbit wizard bigdick jasper enter rachel chris steven winner adidas victoria natasha
1q2w3e4r jasmine winter prince panties marine ghbdtn fishing cocacola casper james 232323 raiders 888888 marlboro
gandalf asdfasdf crystal 87654321 12344321 sexsex golden blowme bigtits 8675309 panther lauren angela bitch spanky
thx1138 angels madison winston shannon mike toyota blowjob jordan23 canada sophie apples dick tiger razz 123abc
pokemon qazxsw 55555 qwaszx muffin johnson murphy cooper jonathan liverpoo david danielle 159357 jackie 1990 123456a
789456 turtle horny abcd1234 scorpion qazwsxedc 101010 butter carlos password1 dennis slipknot qwerty123 booger
asdf 1991 black startrek 12341234 cameron newyork rainbow nathan john 1992 rocket viking redskins butthead asdfghjkl
1212 sierra peaches gemini doctor wilson sandra helpme qwertyui victor florida dolphin pookie captain tucker blue
liverpool theman bandit dolphins maddog packers jaguar lovers nicholas united tiffany maxwell zzzzzz nirvana jeremy
suckit stupid porn monica elephant giants jackass hotdog rosebud success debbie mountain 444444 xxxxxxxx warrior
1q2w3e4r5t q1w2e3 123456q albert metallic lucky azerty 7777 shithead alex bond007 alexis 1111111 samson 5150 willie
scorpio bonnie gators benjamin voodoo driver dexter 2112 jason calvin freddy 212121 creative 12345a sydney rush2112
1989 asdfghjk red123 bubba 4815162342 passw0rd trouble gunner happy fucking gordon legend jessie stella qwert eminem
arthur apple nissan bullshit bear america 1qazxsw2 nothing parker 4444 rebecca qweqwe garfield 01012011 beavis 69696969
jack asdasd december 2222 102030 252525 11223344 magic apollo skippy 315475 girls kitten golf copper braves shelby godzilla
beaver fred tomcat august buddy airborne 1993 1988 lifehack qqqqqq brooklyn animal platinum phantom online xavier darkness
blink182 power fish green 789456123 voyager police travis 12qwaszx heaven snowball lover abcdef 00000 pakistan 007007
walter playboy blazer cricket sniper hooters donkey willow loveme saturn therock redwings bigboy pumpkin trinity
williams tits nintendo digital destiny topgun runner marvin guinness chance bubbles testing fire november minecraft
asdf1234 lasvegas sergey broncos cartman private celtic birdie little cassie babygirl donald beatles 1313 dickhead
family 12121212 school louise gabriel eclipse fluffy 147258369 lol123 explorer beer nelson flyers spencer scott lovely
gibson doggie cherry andrey snickers buffalo pantera metallica member carter qwertyu peter alexande steve bronco
paradise goober 5555 samuel montana mexico dreams michigan cock carolina yankee friends magnum surfer poopoo maximus
genius cool vampire lacrosse asd123 aaaa christin kimberly speedy sharon carmen 111222 kristina sammy racing ou812
sabrina horses 0987654321 qwerty1 pimpin baby stalker enigma 147147 star poohbear boobies 147258 simple bollocks 12345q
marcus brian 1987 qweasdzxc drowssap hahaha caroline barbara dave viper drummer action einstein bitches genesis hello1
scotty friend forest 010203 hotrod google vanessa spitfire badger maryjane friday alaska 1232323q tester jester jake
champion billy 147852 rock hawaii badass chevy 420420 walker stephen eagle1 bill 1986 october gregory svetlana pamela
1984 music shorty westside stanley diesel courtney 242424 kevin porno hitman boobs mark 12345qwert reddog frank qwe123
popcorn patricia aaaaaaaa 1969 teresa mozart buddha anderson paul melanie abcdefg security lucky1 lizard denise 3333
a12345 123789 ruslan stargate simpsons scarface eagle 123456789a thumper olivia naruto 1234554321 general cherokee a123456
vincent usuckballz1 spooky qweasd cumshot free frankie douglas death 1980 loveyou kitty kelly veronica suzuki semperfi
penguin mercury liberty spirit scotland natalie marley vikings system sucker king allison marshall 1979 098765 qwerty12
hummer adrian 1985 vfhbyf sandman rocky leslie antonio 98765432 4321 softball passion mnbvcxz bastard passport horney
rascal howard franklin bigred assman alexander homer redrum jupiter claudia 55555555 141414 zaq12wsx shit patches
cunt raider infinity andre 54321 galore college russia kawasaki bishop 77777777 vladimir money1 freeuser wildcat
francis disney budlight brittany 1994 00000000 sweet oksana honda domino bulldogs brutus swordfis norman monday jimmy
ironman ford fantasy 9999 7654321 pentium 1978 xxxx barcelona austin1 rabbit1 kill4me 123321123 cheers beach 1970 roberto
money123 jesus sweety basketball baseball1 welcome1 trustme monkey1 football1 princess1 shadow1 master1 superman1
sunshine1 iloveyou1 charlie1 letmein1 dragon1 michael1 jordan1 qwerty1234 admin admin123 administrator root toor
changeme default guest user login passwd password123 password12 password1234 pass123 pass1234 letmein123 welcome123
abc12345 test123 test1234 temp temp123 demo demo123 server oracle mysql postgres sql database backup ubuntu debian linux
windows raspberry pi vagrant docker kubernetes jenkins ansible nagios zabbix cisco netgear linksys dlink tplink huawei
router wifi wireless manager support service sysadmin webmaster hostmaster postmaster info office company business
qwertyuiop123 asdfghjkl123 zxcvbnm123 1qaz2wsx3edc qazwsxedcrfv zaq1xsw2cde3 1q2w3e4r5t6y 1q2w3e4r5t6y7u8i9o0p
123456789012 1234567890123 12345678910 123456123456 12341234 abcabc abcabcabc qweqweqwe asdasdasd zxczxczxc
aa123456 123456aa 1234abcd abcd123 a1b2c3 a1b2c3d4 a1b2c3d4e5 iloveu iloveyou2 ihateyou trustnoone letmeinnow
opensesame passpass secret123 topsecret supersecret mypassword mypass yourpassword newpassword oldpassword nopassword
thepassword password! passwords passwort motdepasse contrasena senha parola salasana wachtwoord haslo lozinka heslo
jelszo salasona kennwort geheim sommer winter2024 summer2024 spring2024 autumn2024 fall2024 winter2023 summer2023
correcthorsebatterystaple correcthorse horsebatterystaple hunter2 letitbe imagine yesterday blackbird stairwaytoheaven
bohemianrhapsody hotelcalifornia sweetchildomine smellsliketeenspirit wonderwall
maytheforcebewithyou thequickbrownfox thequickbrownfoxjumpsoverthelazydog jumpsoverthelazydog loremipsum
helloworld hellohello hellokitty goodmorning goodnight goodbye whatsup welcomehome letmeinplease iamthebest
iloveyoubaby iloveyousomuch iloveyouforever iloveyoutoo ilovemyself ilovemymom ilovemydad ilovegod iloveme
ilovejesus ilovemusic ilovepizza ilovecats ilovedogs ilovemyfamily ilovemyboyfriend ilovemygirlfriend
jesuschrist jesusislord jesuslovesme godisgood godislove blessed blessing faith trinity1 angel1 heaven1 hallelujah
mustang1 chevrolet chevy1 corvette1 ferrari1 lamborghini porsche911 bmw mercedes1 audi volkswagen toyota1 nissan1
harleydavidson kawasaki1 ducati yamaha1 suzuki1 honda1 subaru mazda jeep dodge ford1 cadillac lincoln tesla
spiderman batman1 superman123 ironman1 wolverine hulk thor captainamerica avengers deadpool joker harleyquinn
harrypotter hogwarts gryffindor slytherin dumbledore voldemort hermione frodo gandalf1 aragorn legolas mordor
starwars1 darthvader skywalker lukeskywalker yoda chewbacca obiwan jedi sith stormtrooper millennium
startrek1 enterprise spock kirk picard klingon pokemon1 pikachu charizard mario luigi zelda link sonic pacman tetris
minecraft1 fortnite roblox warcraft worldofwarcraft starcraft diablo1 counterstrike halo callofduty playstation
xbox nintendo1 gamer gaming gameover player1 ninja samurai shinobi dragonball goku vegeta naruto1 sasuke onepiece
football12 soccer1 baseball12 basketball1 hockey1 golf1 tennis1 volleyball softball1 cheerleader gymnastics swimming
running cycling skateboard snowboard surfing fishing1 hunting camping outdoors
liverpool1 chelsea1 arsenal1 manchester manutd manchesterunited realmadrid barcelona1 juventus bayern ajax celtic1
rangers1 tottenham everton newcastle westham leeds aston astonvilla milan acmilan inter intermilan psg
cowboys1 steelers1 patriots packers1 eagles1 giants1 raiders1 broncos1 bears chiefs dolphins1 jets bills seahawks
49ers niners ravens vikings1 saints falcons panthers buccaneers chargers rams cardinals redskins1 texans colts
yankees1 redsox1 dodgers cubs mets braves1 astros phillies lakers1 celtics bulls knicks warriors heat spurs
monkey123 dragon123 shadow123 master123 michael123 jordan123 charlie123 sunshine123 princess123 football123
iloveyou123 qwerty12345 asdf12345 zxcv1234 1qaz2wsx3edc4rfv qwer4321 asdfqwer zxcvasdf qweasdzxc123 q1w2e3r4t5y6
aaaaaa1 aaaaaaaaaaaa abcdefghijkl abcdefghij abcdefgh 1a2b3c4d 1a2b3c 12qw12qw 1qw23e 123qweasd 123qweasdzxc
qwe123qwe 123asd 123zxc asd123asd zxc123 qwe12345 qwerty12 qwertyqwerty asdfasdfasdf 1234512345 1234567812345678
michael jennifer jessica ashley amanda sarah melissa nicole stephanie heather elizabeth megan rachel lauren amber
danielle brittany samantha katherine emily kayla hannah rebecca chelsea christina tiffany courtney vanessa laura
andrea alicia victoria crystal erin kelly jamie allison lisa mary maria karen susan linda patricia nancy betty
margaret sandra donna carol ruth sharon michelle kimberly deborah dorothy amy angela helen anna brenda pamela emma
olivia ava isabella sophia mia charlotte amelia harper evelyn abigail ella madison scarlett grace chloe camila
penelope riley layla lillian nora zoey mila aubrey hazel violet aurora savannah audrey brooklyn bella claire skylar
lucy paisley everly caroline nova genesis emilia kennedy maya willow kinsley naomi aaliyah elena sarah1 ariana
james john robert michael1 william david richard joseph thomas charles christopher daniel matthew anthony mark
donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob gary
nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick raymond
jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle ethan walter noah jeremy christian
keith roger terry gerald harold sean austin carl arthur lawrence dylan jesse jordan bryan billy joe bruce gabriel
logan albert willie alan juan wayne elijah randy roy vincent ralph eugene russell bobby mason philip louis liam
lucas oliver elijah1 aiden jackson sebastian mateo owen luke grayson isaac levi julian hudson lincoln jaxon asher
leo carter hunter wyatt caleb landon connor jeremiah easton colton cameron adrian robert1 nolan hunter1 max maxwell
charlie buddy bella lucy daisy molly bailey sadie maggie sophie chloe lola zoe roxy coco ruby rocky duke bear
tucker jack toby cody buster oscar riley teddy winston murphy lucky sam shadow harley zeus bentley milo louie
oreo pepper gizmo princess fluffy tigger simba nala smokey misty felix garfield kitty kitten puppy doggy
monkey dragon tiger lion eagle falcon hawk wolf fox bear1 shark dolphin1 whale turtle1 snake cobra viper1 python
panther1 jaguar1 leopard cheetah puma cougar lynx bobcat horse pony unicorn butterfly ladybug bumblebee
orange1 apple1 banana1 cherry1 strawberry blueberry raspberry peach mango pineapple watermelon lemon lime coconut
chocolate vanilla caramel cookie1 cupcake muffin1 pancake waffle donut candy sugar honey cinnamon pepper1 ginger1
pizza burger hotdog1 bacon cheese1 chicken1 turkey steak taco burrito sushi noodle pasta spaghetti coffee1 tea
beer1 whiskey vodka tequila wine martini bourbon guinness1 heineken budweiser corona
red blue1 green1 yellow1 purple1 pink black1 white brown silver1 golden1 orange2 rainbow1 crimson scarlet violet1
summer1 winter1 spring autumn january february march april may june july august1 september october1 november1
december1 monday1 tuesday wednesday thursday friday1 saturday sunday weekend holiday vacation christmas easter
halloween valentine birthday anniversary newyear
sunshine2 moonlight starlight sunset sunrise midnight1 twilight thunder1 lightning storm hurricane tornado
rainbow2 ocean river mountain1 forest1 island desert valley canyon paradise1 heaven2 earth planet galaxy universe
cosmos nebula eclipse1 comet meteor jupiter1 saturn1 mars venus mercury1 pluto neptune uranus
america1 usa canada1 mexico1 brazil argentina england britain london1 paris france germany berlin italy rome
spain madrid russia1 moscow china beijing japan tokyo korea seoul india delhi australia sydney1 melbourne
ireland dublin scotland1 wales texas california florida1 newyork1 chicago1 boston1 dallas1 houston atlanta miami
vegas lasvegas1 seattle denver phoenix1 detroit portland hollywood brooklyn1 manhattan jersey newjersey
love1 lovely1 loveme1 lover1 loving lovers1 loveyou1 lovelove mylove truelove myheart sweetheart sweetie honey1
babygirl1 babyboy baby1 angel2 angels1 princesa princess2 queen king1 kingdom royal prince1 duke1 lady lord
sexy1 sexygirl sexyboy hottie hotstuff hotgirl cutie cutie1 pretty beautiful gorgeous handsome
freedom1 liberty1 justice peace harmony serenity destiny1 faith1 hope charity grace1 mercy spirit1 soul karma
zen nirvana1 heaven3 forever1 always never nothing1 everything something anything whatever1 someday
password2 password3 password01 password11 password99 password00 pa55word pa55w0rd p4ssw0rd p455w0rd passw0rd1
secret1 secret12 mysecret letmein2 access1 access14 accessdenied welcome2 welcome01 hello123 hello1234 hi
computer1 internet1 laptop desktop keyboard mouse monitor printer network server1 system1 hacker hacking
matrix1 neo morpheus trinity2 cyber cyberpunk robot android iphone apple123 samsung1 google1 facebook twitter
instagram youtube snapchat tiktok whatsapp linkedin myspace yahoo hotmail gmail outlook microsoft windows1
cisco123 admin1 admin1234 admin12345 administrator1 root123 rootroot toor123 changeme1 changeme123 default1
guest1 guest123 user1 user123 user1234 login1 login123 test1 test12 test12345 testing1 testing123 tester1
qa123 dev developer devops staging production prod live master12 masterkey skeleton passkey keymaster
letmeout opendoor openup openme unlock unlocked superuser superadmin sa sapassword manager1 supervisor
operator controller monitor1 service1 support1 helpdesk hosting webhost cpanel plesk wordpress joomla drupal
magento shopify slipway slipwaypanel controlpanel panel dashboard hostpanel webpanel admin2024 admin2023
`;

export const COMMON_PASSWORDS: ReadonlySet<string> = new Set(LIST.split(/\s+/).filter(Boolean));
